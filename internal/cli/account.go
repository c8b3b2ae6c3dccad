package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/store"
)

func (a *app) accountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "account",
		Short:   "Read an account's orders",
		Example: `  tapctl account orders ACC-42 --env dev --since 24h`,
		Args:    usageArgs(cobra.ArbitraryArgs),
		RunE:    needSubcommand,
	}
	cmd.AddCommand(a.accountOrdersCmd())
	return cmd
}

// accountOrderView is one order of an account: when it opened and its state.
type accountOrderView struct {
	OpenedAt time.Time `json:"openedAt"`
	orderView
}

// defaultAccountLimit bounds what one `account orders` prints unless --limit
// says otherwise; an account with more says so.
const defaultAccountLimit = 1000

func (a *app) accountOrdersCmd() *cobra.Command {
	var useLocal bool
	var since string
	var limit int
	cmd := &cobra.Command{
		Use:   "orders ACCOUNT_ID",
		Short: "List an account's orders by when they opened, oldest first",
		Long: `List an account's orders by the time each opened (the transactTime of the
first event applied to it), oldest first, with each order's current state.

The table's byAccount index holds keys only and is written once per order,
when it opens, so state updates cost no index writes (DESIGN §3, the account
index); the states are then read in batches of 100. Both reads are
eventually consistent: an order opened or updated in the last second may be
missing or show its previous state. Use 'tapctl order get' for a strongly
consistent read of one order.

--since keeps the orders opened at or after an RFC 3339 time or a duration
back from now (24h, 90m): an order opened before it and still trading is not
listed. At most --limit orders are listed (0: all); when the account has
more, a line on stderr says so and how to see the rest.`,
		Example: `  tapctl account orders ACC-42 --env dev
  tapctl account orders ACC-42 --since 24h
  tapctl account orders ACC-42 --since 2026-01-05T14:30:00Z --output json
  tapctl account orders ACC-42 --limit 0`,
		Args: oneArg("ACCOUNT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			now := a.env.Now()
			from, err := parseSince(since, now)
			if err != nil {
				return err
			}
			if from.After(now) {
				return usagef("--since %s is in the future (now is %s): no order can have opened after it",
					from.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
			}
			if limit < 0 {
				return usagef("--limit %d: want 0 (all) or a positive number of orders", limit)
			}
			t, err := a.target(cmd.Context(), useLocal)
			if err != nil {
				return err
			}
			res, err := t.store().AccountOrders(cmd.Context(), store.AccountQuery{AccountID: args[0], OpenedSince: from, Limit: limit})
			if err != nil {
				return err
			}
			views := make([]accountOrderView, 0, len(res.Orders))
			for _, o := range res.Orders {
				views = append(views, accountOrderView{OpenedAt: o.OpenedAt, orderView: viewOrder(o.OrderState)})
			}
			if res.More {
				last := res.Orders[len(res.Orders)-1].OpenedAt
				fmt.Fprintf(a.env.Stderr, "account %s has more orders than the %d listed: see the rest with --since %s (the last one listed opened then), or raise --limit (0: all)\n",
					args[0], limit, last.UTC().Format(time.RFC3339Nano))
			}
			if asJSON {
				return writeJSON(a.env.Stdout, views)
			}
			if len(views) == 0 {
				if from.IsZero() {
					fmt.Fprintf(a.env.Stdout, "no orders of account %s in %s\n", args[0], t.where())
				} else {
					fmt.Fprintf(a.env.Stdout, "no orders of account %s opened since %s in %s\n", args[0], from.UTC().Format(time.RFC3339), t.where())
				}
				return nil
			}
			tw := newTable(a.env.Stdout)
			fmt.Fprintln(tw, "OPENED\tORDER\tSYMBOL\tSIDE\tSTATUS\tFILLED/ORDERED\tAVG PX\tSEQ\tLAST TRANSACT TIME")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\t%d\t%s\n", timestamp(v.OpenedAt), v.OrderID, v.Symbol,
					v.Side, v.Status, v.CumQty, v.OrderQty, v.AvgPx, v.LastSeq, timestamp(v.TransactTime))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only orders opened at or after this RFC 3339 time or duration ago (e.g. 24h)")
	cmd.Flags().IntVar(&limit, "limit", defaultAccountLimit, "list at most this many orders, oldest first (0: all)")
	cmd.Flags().BoolVar(&useLocal, "local", false, "read from the running local pipeline (tapctl local; with --regions, the primary region's, or the one --region names)")
	return cmd
}

// parseSince reads --since: empty (everything), an RFC 3339 time, or a
// duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--since %q: want an RFC 3339 time (2026-01-05T14:30:00Z) or a duration (24h)", s)
}
