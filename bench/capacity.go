package bench

import (
	"fmt"
	"math"
	"strings"
)

// quota is one regional quota the capacity plan checks.
type quota struct {
	name   string
	limit  float64
	soft   string // adjustable, and what to request; or why it is a design limit
	source string
	// use is the quota's use per event per second, in the region it binds.
	use float64
	// where is the region it binds in.
	where string
	// past is what the design would change past the quota.
	past string
}

// capacityRates are the sustained rates of the plan, events per second.
func capacityRates() []float64 { return []float64{100, 1000, 10000, 50000} }

func (r Report) quotas(m model) []quota {
	ua, ub := m.nowA.Units, m.nowB.Units
	const (
		lambdaQuotas = "https://docs.aws.amazon.com/lambda/latest/dg/limits.html"
		ebQuotas     = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
		ddbOnDemand  = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html"
	)
	return []quota{
		{name: "Lambda concurrent executions (account, per region)", limit: 1000, where: "publishing region",
			use:    m.nowA.Billed.Seconds(),
			soft:   "adjustable (\"tens of thousands\"): request an increase in Service Quotas, Lambda, Concurrent executions",
			source: lambdaQuotas + " (default 1,000)",
			past:   "nothing in the design; reserve concurrency for the processor so other functions cannot starve it"},
		{name: "EventBridge PutEvents requests per second (us-east-1)", limit: 10000, where: "publishing region",
			use:    0.1,
			soft:   "adjustable (Service Quotas, EventBridge, PutEvents throttle limit); needs producers batching 10 entries a request, as `tapctl send` does",
			source: ebQuotas + " (us-east-1 10,000/s; us-west-2's figure was cut from the excerpt read, not confirmed)",
			past:   "shard producers across accounts, or carry several executions per event"},
		{name: "EventBridge invocations per second (us-east-1 and us-west-2)", limit: 18750, where: "publishing region",
			use:    2, // the processor rule and the endpoint's replication rule each invoke a target per event
			soft:   "adjustable (Service Quotas, EventBridge, Invocations throttle limit); past it EventBridge delays invocations, it does not drop them",
			source: ebQuotas + " (us-east-1 and us-west-2: 18,750/s)",
			past:   "carry several executions per event (one invocation and one Lambda request for a batch), or split the stream over accounts"},
		{name: "DynamoDB on-demand table throughput, write units per second", limit: 40000, where: "publishing region",
			use:    ua.WRU + ub.ReplicatedOut + ub.IndexOut,
			soft:   "adjustable (Service Quotas, DynamoDB, table-level write throughput); the default bounds every on-demand table in the account",
			source: ddbOnDemand + " (40,000 table-level read and write throughput)",
			past:   "request it; per-key limits do not bind (each order is its own partition key, written a few times per second at most)"},
		{name: "DynamoDB on-demand table throughput, write units per second", limit: 40000, where: "other region",
			use:    ub.WRU + ua.ReplicatedOut + ua.IndexOut,
			soft:   "as above, in the other region (replicated writes count there: not confirmed on an AWS page)",
			source: ddbOnDemand,
			past:   "as above"},
		{name: "Lambda concurrent executions (account, per region)", limit: 1000, where: "other region",
			use:    m.nowB.Billed.Seconds(),
			soft:   "adjustable, as above",
			source: lambdaQuotas,
			past:   "as above"},
	}
}

func (r Report) writeCapacity(b *strings.Builder, m model) {
	qs := r.quotas(m)
	fmt.Fprintf(b, "\n## Capacity plan (from the same model)\n\n")
	fmt.Fprintf(b, "Use of each regional quota per event per second as deployed (TAP now, %d MB, billed durations above): Lambda\n", m.memoryMB)
	fmt.Fprintf(b, "concurrency = rate × billed duration; PutEvents requests = rate ÷ 10 (batched producers); invocations = 2 × rate\n")
	fmt.Fprintf(b, "in the publishing region (the processor's rule and the global endpoint's replication rule); write units = this region's\n")
	fmt.Fprintf(b, "own writes + the other region's replicated items and their index writes. The Lambda burst rate (1,000 new environments\n")
	fmt.Fprintf(b, "per 10 s per function, https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html) bounds how fast a rate can ramp, not the rate.\n\n")
	fmt.Fprintf(b, "| quota (default) | where |")
	rates := capacityRates()
	for _, rate := range rates {
		fmt.Fprintf(b, " %s events/s |", fmtCount(rate))
	}
	fmt.Fprintf(b, " first reached at |\n|---|---|%s---:|\n", strings.Repeat("---:|", len(rates)))
	first, firstAt := -1, math.Inf(1)
	for i, q := range qs {
		fmt.Fprintf(b, "| %s (%s) | %s |", q.name, fmtCount(q.limit), q.where)
		for _, rate := range rates {
			use := rate * q.use
			cell := fmtCount(use)
			if use > q.limit {
				cell = "**" + cell + "**"
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		at := q.limit / q.use
		if at < firstAt {
			first, firstAt = i, at
		}
		fmt.Fprintf(b, " %s events/s |\n", fmtCount(at))
	}
	fmt.Fprintf(b, "| monthly bill (variable + fixed) | |")
	for _, rate := range rates {
		fmt.Fprintf(b, " $%s |", fmtCount(rate*SecondsPerMonth/1e6*m.now.Total()+m.fixed.Total()))
	}
	fmt.Fprintf(b, " |\n\nBold: over the default quota. ")
	q := qs[first]
	fmt.Fprintf(b, "The first limit is **%s** in the %s, at about %s events/s: %s. Past it: %s.\n\n", q.name, q.where, fmtCount(firstAt), q.soft, q.past)
	fmt.Fprintf(b, "Every quota, with its source and what to do past it:\n\n")
	for _, q := range qs {
		fmt.Fprintf(b, "- %s, %s: %s (%s). Past it: %s.\n", q.name, q.where, q.soft, q.source, q.past)
	}
	fmt.Fprintf(b, "\n")
	for _, rate := range rates {
		var over []string
		for _, q := range qs {
			if rate*q.use > q.limit {
				over = append(over, fmt.Sprintf("%s in the %s (%.1f× the default)", q.name, q.where, rate*q.use/q.limit))
			}
		}
		if len(over) == 0 {
			fmt.Fprintf(b, "- At %s events/s no default quota binds.\n", fmtCount(rate))
			continue
		}
		fmt.Fprintf(b, "- At %s events/s: over the default: %s. Request the increases before the load arrives.\n", fmtCount(rate), strings.Join(over, "; "))
	}
	fmt.Fprintf(b, "\nPast the adjustable quotas the per-event shape (two EventBridge invocations, two Lambda requests) drives both the\n")
	fmt.Fprintf(b, "quotas and the bill, and the design would carry several executions per event. Quotas in regions other than\n")
	fmt.Fprintf(b, "us-east-1/us-west-2 are lower ")
	fmt.Fprintf(b, "(EventBridge invocations 4,500/s in us-east-2 and eu-central-1, 2,250/s or less elsewhere, per the same page).\n")
}

func fmtCount(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case f >= 100:
		s := fmt.Sprintf("%.0f", f)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	case f >= 10:
		return fmt.Sprintf("%.0f", f)
	default:
		return fmt.Sprintf("%.1f", f)
	}
}
