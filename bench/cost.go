package bench

import (
	"math"
	"slices"
	"time"

	"github.com/tap-trading/tap/internal/lambdaruntime"
	"github.com/tap-trading/tap/internal/metrics"
)

// Assumptions the model cannot measure here, stated in the report.
const (
	// DDBWriteWait and DDBReadWait are DynamoDB's in-region latency for one
	// small request as the deployed function waits on it. moto takes 10–14
	// ms; DynamoDB's documented figure is "single-digit milliseconds".
	DDBWriteWait = 4 * time.Millisecond
	DDBReadWait  = 3 * time.Millisecond
	// XRaySampled is the share of invocations Lambda's default sampling rule
	// traces at a sustained rate (1 a second plus 5 %: the 5 % dominates).
	XRaySampled = 0.05
	// SecondsPerMonth is 30 days.
	SecondsPerMonth = 30 * 24 * 3600
)

// PassStats is one region's processing of the same events, measured: per
// event, what was called and for how long, and what was logged.
type PassStats struct {
	Events int
	// Calls counts DynamoDB calls per event by kind.
	Calls CallCounts
	// Wait, Self and Billed are per invocation on this machine: time waiting
	// on DynamoDB (moto), the rest of the billed duration (the process's own
	// time: CPU, Runtime API, scheduling), and fetch-to-response.
	WaitMean, SelfMean, SelfP50, BilledMean time.Duration
	// CPU is user+sys per event.
	CPU time.Duration
	// LogBytes is what the process wrote per event (stdout+stderr).
	LogBytes float64
	// PeakRSS is the process's VmHWM, for the REPORT line.
	PeakRSS int64
	// Created is the order states the timed events created, per event: the
	// distinct orders among them of which the table held no event before
	// them (see Created). It prices the index writes of the state items.
	Created float64
}

// CallCounts are DynamoDB calls per event.
type CallCounts struct {
	PutOK, PutFailed, UpdateOK, UpdateFailed float64
	QueryConsistent, QueryEventual           float64
	GetConsistent, GetEventual, Other        float64
}

// Writes is every write call per event.
func (c CallCounts) Writes() float64 { return c.PutOK + c.PutFailed + c.UpdateOK + c.UpdateFailed }

// Reads is every read call per event.
func (c CallCounts) Reads() float64 {
	return c.QueryConsistent + c.QueryEventual + c.GetConsistent + c.GetEventual
}

// Analyze attributes the DynamoDB calls to the timed invocations (one in
// flight: a call belongs to the invocation whose fetch-to-response window
// holds its start) and sums them up per event.
func Analyze(ph Phase, calls []Call) PassStats {
	st := PassStats{Events: ph.Events, CPU: ph.CPUPerEvent(), PeakRSS: ph.PeakRSS}
	st.LogBytes = float64(ph.LogBytes) / float64(max(ph.Events, 1))
	res := slices.Clone(ph.Results)
	slices.SortFunc(res, func(a, b lambdaruntime.Result) int { return a.Fetched.Compare(b.Fetched) })
	slices.SortFunc(calls, func(a, b Call) int { return a.Start.Compare(b.Start) })
	var counts CallCounts
	selfs := make([]time.Duration, 0, len(res))
	var waitSum, selfSum, billedSum time.Duration
	j := 0
	for _, r := range res {
		var wait time.Duration
		for j < len(calls) && calls[j].Start.Before(r.Fetched) {
			j++ // warm-up or harness calls
		}
		for ; j < len(calls) && calls[j].Start.Before(r.Completed); j++ {
			c := calls[j]
			wait += c.Wait()
			counts.add(c)
		}
		d := r.Duration()
		waitSum += wait
		selfSum += d - wait
		billedSum += d
		selfs = append(selfs, d-wait)
	}
	n := float64(max(len(res), 1))
	st.Calls = counts.scale(1 / n)
	st.WaitMean = time.Duration(float64(waitSum) / n)
	st.SelfMean = time.Duration(float64(selfSum) / n)
	st.BilledMean = time.Duration(float64(billedSum) / n)
	slices.Sort(selfs)
	st.SelfP50 = percentile(selfs, 50)
	return st
}

func (c *CallCounts) add(call Call) {
	switch {
	case call.Op == "PutItem" && call.Status == 200:
		c.PutOK++
	case call.Op == "PutItem" && call.ConditionFailed:
		c.PutFailed++
	case call.Op == "UpdateItem" && call.Status == 200:
		c.UpdateOK++
	case call.Op == "UpdateItem" && call.ConditionFailed:
		c.UpdateFailed++
	case call.Op == "Query" && call.Consistent:
		c.QueryConsistent++
	case call.Op == "Query":
		c.QueryEventual++
	case call.Op == "GetItem" && call.Consistent:
		c.GetConsistent++
	case call.Op == "GetItem":
		c.GetEventual++
	default:
		c.Other++
	}
}

func (c CallCounts) scale(f float64) CallCounts {
	return CallCounts{c.PutOK * f, c.PutFailed * f, c.UpdateOK * f, c.UpdateFailed * f,
		c.QueryConsistent * f, c.QueryEventual * f, c.GetConsistent * f, c.GetEventual * f, c.Other * f}
}

// ItemSizes are the mean DynamoDB sizes (bytes) of the items one event
// writes, measured on the tables after the run.
type ItemSizes struct {
	Execution, State float64
	// IndexKeys is the size of a state item's key attributes (the table's
	// and the byAccount index's): a KEYS_ONLY index entry.
	IndexKeys float64
}

// units is DynamoDB's write units for an item of size bytes (1 KB each).
func writeUnits(size float64) float64 { return math.Max(1, math.Ceil(size/1024)) }

// Units are the DynamoDB request units one region's pass consumes per event.
type Units struct {
	// WRU are this region's own writes, failed conditions included (they
	// consume write units too), and the index writes of its state writes.
	WRU float64
	// RRU are its reads (eventually consistent: half).
	RRU float64
	// ReplicatedOut are the rWRU its successful writes cost in the other
	// replica, and IndexOut the index writes they cause there (each replica
	// maintains its own index; those writes are ordinary WRU there:
	// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/global-tables-billing.html).
	ReplicatedOut, IndexOut float64
}

// IndexRule is how one processor revision's state writes reach the
// byAccount index: how many index writes a state item's creation and each
// later successful update cost, and how large an index entry is.
type IndexRule struct {
	Name string
	// PerCreate and PerUpdate are the index writes of a state item's
	// creation and of each later successful update.
	PerCreate, PerUpdate float64
	// KeysOnly says the index projects only the keys (an entry is
	// ItemSizes.IndexKeys); otherwise it projects the whole state item.
	KeysOnly bool
}

// The index rules of the revisions the bench prices.
var (
	// IndexSetOnce is issue 15's index: KEYS_ONLY, its sort key set once
	// when the order's state item is created (if_not_exists), so only the
	// creation writes the index.
	IndexSetOnce = IndexRule{Name: "set once (issue 15)", PerCreate: 1, PerUpdate: 0, KeysOnly: true}
	// IndexMovesOnUpdate is the index before issue 15: all attributes
	// projected and a sort key (transactTime#orderId) that changes with
	// every event, which DynamoDB applies as a delete and a put in the
	// index; the state's first write is one put.
	IndexMovesOnUpdate = IndexRule{Name: "moves on every update (before issue 15)", PerCreate: 1, PerUpdate: 2}
)

// Writes is the index writes per event of a pass that created created
// state items and made updated successful state updates (creations among
// them) per event.
func (r IndexRule) Writes(created, updated float64) float64 {
	created = min(created, updated) // only a successful update creates
	return created*r.PerCreate + (updated-created)*r.PerUpdate
}

// entryUnits is the write units of one index write.
func (r IndexRule) entryUnits(sz ItemSizes) float64 {
	if r.KeysOnly {
		return writeUnits(sz.IndexKeys)
	}
	return writeUnits(sz.State)
}

// UnitsOf prices a pass's calls in request units; created is the state items
// the pass created per event, rule the revision's index rule.
func UnitsOf(c CallCounts, created float64, rule IndexRule, sz ItemSizes) Units {
	ex, st := writeUnits(sz.Execution), writeUnits(sz.State)
	index := rule.Writes(created, c.UpdateOK) * rule.entryUnits(sz)
	return Units{
		WRU:           (c.PutOK+c.PutFailed)*ex + (c.UpdateOK+c.UpdateFailed)*st + index,
		RRU:           c.QueryConsistent + c.GetConsistent + 0.5*(c.QueryEventual+c.GetEventual),
		ReplicatedOut: c.PutOK*ex + c.UpdateOK*st,
		IndexOut:      index,
	}
}

// Deployment is how one function is deployed.
type Deployment struct {
	Arch     string // arm64 or x86_64
	MemoryMB int
}

// cpuScale is how much slower the process's own time runs at memoryMB than
// on a whole core: Lambda allocates CPU in proportion to memory up to one
// vCPU at 1769 MB.
func cpuScale(memoryMB int) float64 { return math.Max(1, MBPerVCPU/float64(memoryMB)) }

// DeployedBilled estimates a pass's billed duration per invocation as
// deployed: DynamoDB's in-region waits for the calls made, plus the measured
// own time stretched to the memory's CPU share, rounded up to 1 ms.
func DeployedBilled(st PassStats, memoryMB int, self time.Duration) time.Duration {
	wait := time.Duration(st.Calls.Writes()*float64(DDBWriteWait) + st.Calls.Reads()*float64(DDBReadWait))
	d := wait + time.Duration(float64(self)*cpuScale(memoryMB))
	return time.Duration(math.Ceil(float64(d)/float64(time.Millisecond))) * time.Millisecond
}

// Line is one line of a bill per million events.
type Line struct {
	What string
	// Qty describes the measured or modelled quantity behind the dollars.
	Qty     string
	Dollars float64
	// Measured says whether the quantity was measured in this run (else
	// it is a design constant or an assumption).
	Measured bool
}

// Bill is a variable bill per million events.
type Bill struct {
	Name  string
	Lines []Line
}

// Total of the bill's lines.
func (b Bill) Total() float64 {
	var t float64
	for _, l := range b.Lines {
		t += l.Dollars
	}
	return t
}

// Line returns the line named what, or a zero Line.
func (b Bill) Line(what string) Line {
	for _, l := range b.Lines {
		if l.What == what {
			return l
		}
	}
	return Line{What: what}
}

// Names of the bill lines, shared by every bill so they line up.
const (
	LineEventsPublished  = "EventBridge: events published"
	LineEventsReplicated = "EventBridge: events replicated to the other bus"
	LineLambdaRequests   = "Lambda: requests"
	LineLambdaPrimary    = "Lambda: compute, publishing region"
	LineLambdaSecondary  = "Lambda: compute, other region"
	LineDDBPrimary       = "DynamoDB: writes and reads, publishing region"
	LineDDBReplication   = "DynamoDB: replication of the items"
	LineDDBSecondary     = "DynamoDB: writes and reads, other region"
	LineLogs             = "CloudWatch Logs: ingestion"
	LineXRay             = "X-Ray: traces"
)

// PassCost is one region's pass priced.
type PassCost struct {
	Units    Units
	Billed   time.Duration
	LogBytes float64
}

func gbSeconds(billed time.Duration, memoryMB int) float64 {
	return billed.Seconds() * float64(memoryMB) / 1024
}

// lambdaGBs is Lambda's price per GB-second for arch.
func (p Prices) lambdaGBs(arch string) float64 {
	if arch != "arm64" {
		return p.LambdaX86GBs
	}
	return p.LambdaArmGBs
}

// TwoRegionBill prices a design that processes every event in both regions:
// a is the publishing region's pass, b the other's.
func TwoRegionBill(name string, p Prices, dep Deployment, a, b PassCost, measured bool) Bill {
	const m = 1e6
	gbPrice := p.lambdaGBs(dep.Arch)
	return Bill{Name: name, Lines: []Line{
		{LineEventsPublished, "1 per event", p.EventsPerM, false},
		{LineEventsReplicated, "1 per event", p.ReplicatedPerM, false},
		{LineLambdaRequests, "2 per event (one per region)", 2 * p.LambdaRequestPerM, false},
		{LineLambdaPrimary, fmtBilled(a.Billed, dep.MemoryMB), m * gbSeconds(a.Billed, dep.MemoryMB) * gbPrice, measured},
		{LineLambdaSecondary, fmtBilled(b.Billed, dep.MemoryMB), m * gbSeconds(b.Billed, dep.MemoryMB) * gbPrice, measured},
		{LineDDBPrimary, fmtUnits(a.Units), (a.Units.WRU*p.WRUPerM + a.Units.RRU*p.RRUPerM), measured},
		{LineDDBReplication, fmtRepl(a.Units, b.Units), (a.Units.ReplicatedOut+b.Units.ReplicatedOut)*p.RWRUPerM + (a.Units.IndexOut+b.Units.IndexOut)*p.WRUPerM, measured},
		{LineDDBSecondary, fmtUnits(b.Units), (b.Units.WRU*p.WRUPerM + b.Units.RRU*p.RRUPerM), measured},
		{LineLogs, fmtLogBytes(a.LogBytes, b.LogBytes), m * (a.LogBytes + b.LogBytes) / (1 << 30) * p.LogsIngestGB, measured},
		{LineXRay, fmtPct(XRaySampled) + ", 2 per event", 2 * XRaySampled * p.XRayTracePerM, false},
	}}
}

// OneRegionBill prices the seed's design: one publish, one invocation, one
// write (replicated to the table's second replica), its logs and traces.
func OneRegionBill(name string, p Prices, dep Deployment, a PassCost, measured bool) Bill {
	const m = 1e6
	gbPrice := p.lambdaGBs(dep.Arch)
	return Bill{Name: name, Lines: []Line{
		{LineEventsPublished, "1 per event", p.EventsPerM, false},
		{LineEventsReplicated, "none: one bus", 0, false},
		{LineLambdaRequests, "1 per event", p.LambdaRequestPerM, false},
		{LineLambdaPrimary, fmtBilled(a.Billed, dep.MemoryMB) + " " + dep.Arch, m * gbSeconds(a.Billed, dep.MemoryMB) * gbPrice, measured},
		{LineLambdaSecondary, "none: one region processes", 0, false},
		{LineDDBPrimary, fmtUnits(a.Units), a.Units.WRU*p.WRUPerM + a.Units.RRU*p.RRUPerM, measured},
		{LineDDBReplication, fmtRepl(a.Units, Units{}), a.Units.ReplicatedOut*p.RWRUPerM + a.Units.IndexOut*p.WRUPerM, measured},
		{LineDDBSecondary, "none", 0, false},
		{LineLogs, fmtLogBytes(a.LogBytes, 0), m * a.LogBytes / (1 << 30) * p.LogsIngestGB, measured},
		{LineXRay, fmtPct(XRaySampled), XRaySampled * p.XRayTracePerM, false},
	}}
}

// StorageMonth is what keeping one million events' items costs a month in
// both replicas: the execution, the state's share and its KEYS_ONLY index
// entry, with PITR.
func StorageMonth(p Prices, sz ItemSizes, orders, events int) float64 {
	// DynamoDB adds 100 B of overhead per item and per index entry: the
	// execution item is one per event, the state item and its index entry
	// one each per order.
	const overhead = 100
	perEvent := sz.Execution + overhead + (sz.State+overhead+sz.IndexKeys+overhead)*float64(orders)/float64(max(events, 1))
	gb := 1e6 * perEvent / (1 << 30)
	return 2 * gb * (p.StorageGBMonth + p.PITRGBMonth)
}

// FixedMonth is TAP's fixed monthly cost as the CDK app deploys it.
type FixedMonth struct {
	Lines []Line
}

// TapFixed lists TAP's fixed monthly costs: per region 11 alarms, a
// dashboard, an alert key, the EMF metrics, and a heartbeat a minute
// (published, processed, logged); the health alarm, health check.
func TapFixed(p Prices, perEventBill float64) FixedMonth {
	const heartbeatsPerMonth = 2 * 60 * 24 * 30
	// Each EMF metric name, in its one dimension set, is a custom metric per
	// region; the processor's tests hold every name it writes to metrics.Names.
	emf := len(metrics.Names())
	return FixedMonth{Lines: []Line{
		{"CloudWatch alarms", "2 × 11 region alarms + the health alarm", 23 * p.AlarmMonth, false},
		{"CloudWatch dashboards", "1 per region", 2 * p.DashboardMonth, false},
		{"EMF custom metrics", itoa(emf) + " metrics × 2 regions", float64(2*emf) * p.MetricMonth, false},
		{"Route 53 health check", "1", p.HealthCheckMonth, false},
		{"KMS keys (alert topics)", "1 per region", 2 * p.KMSKeyMonth, false},
		{"Heartbeats", "1 a minute per region, priced like an event", heartbeatsPerMonth * perEventBill, false},
	}}
}

// Total of the fixed lines.
func (f FixedMonth) Total() float64 {
	var t float64
	for _, l := range f.Lines {
		t += l.Dollars
	}
	return t
}

func fmtBilled(d time.Duration, memoryMB int) string {
	return fmtMs(d) + " billed at " + itoa(memoryMB) + " MB"
}

func fmtUnits(u Units) string {
	return fmt2(u.WRU) + " WRU + " + fmt2(u.RRU) + " RRU per event"
}

func fmtRepl(a, b Units) string {
	return fmt2(a.ReplicatedOut+b.ReplicatedOut) + " rWRU + " + fmt2(a.IndexOut+b.IndexOut) + " index WRU per event"
}

func fmtLogBytes(a, b float64) string {
	if b == 0 {
		return itoa(int(math.Round(a))) + " B per event"
	}
	return itoa(int(math.Round(a))) + " + " + itoa(int(math.Round(b))) + " B per event"
}

func fmtPct(f float64) string { return fmt2(100*f) + " % of invocations" }
