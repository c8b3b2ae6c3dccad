package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
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

func (a *app) accountOrdersCmd() *cobra.Command {
	var useLocal bool
	var since string
	cmd := &cobra.Command{
		Use:   "orders ACCOUNT_ID",
		Short: "List an account's orders, oldest first",
		Long: `List an account's orders by the transactTime of their current state, oldest
first, through the table's byAccount index (eventually consistent: an order
updated in the last second may show its previous state).

--since takes an RFC 3339 time or a duration back from now (24h, 90m).`,
		Example: `  tapctl account orders ACC-42 --env dev
  tapctl account orders ACC-42 --since 24h
  tapctl account orders ACC-42 --since 2026-01-05T14:30:00Z --output json`,
		Args: oneArg("ACCOUNT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			from, err := parseSince(since, a.env.Now())
			if err != nil {
				return err
			}
			t, err := a.target(cmd.Context(), useLocal)
			if err != nil {
				return err
			}
			orders, err := t.store().AccountOrders(cmd.Context(), args[0], from)
			if err != nil {
				return err
			}
			views := make([]orderView, 0, len(orders))
			for _, o := range orders {
				views = append(views, viewOrder(o))
			}
			if asJSON {
				return writeJSON(a.env.Stdout, views)
			}
			if len(views) == 0 {
				fmt.Fprintf(a.env.Stdout, "no orders of account %s in %s\n", args[0], t.where())
				return nil
			}
			tw := newTable(a.env.Stdout)
			fmt.Fprintln(tw, "TRANSACT TIME\tORDER\tSYMBOL\tSIDE\tSTATUS\tFILLED/ORDERED\tAVG PX\tSEQ")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\t%d\n", timestamp(v.TransactTime), v.OrderID, v.Symbol,
					v.Side, v.Status, v.CumQty, v.OrderQty, v.AvgPx, v.LastSeq)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only orders whose transactTime is at or after this RFC 3339 time or duration ago (e.g. 24h)")
	cmd.Flags().BoolVar(&useLocal, "local", false, "read from the running local pipeline (tapctl local)")
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
