package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/store"
)

// orderView is an order's state as tapctl prints it; decimals stay exact
// strings.
type orderView struct {
	OrderID         string          `json:"orderId"`
	AccountID       string          `json:"accountId"`
	Symbol          string          `json:"symbol"`
	Side            string          `json:"side"`
	Status          string          `json:"status"`
	ExecType        string          `json:"execType"`
	OrderQty        string          `json:"orderQty"`
	CumQty          string          `json:"cumQty"`
	LeavesQty       string          `json:"leavesQty"`
	AvgPx           string          `json:"avgPx"`
	Price           string          `json:"price,omitempty"`
	LastPx          string          `json:"lastPx,omitempty"`
	LastSeq         int64           `json:"lastSeq"`
	LastEventID     string          `json:"lastEventId"`
	TransactTime    time.Time       `json:"transactTime"`
	UpdatedAt       time.Time       `json:"updatedAt"`
	ProcessedRegion string          `json:"processedRegion"`
	Executions      []executionView `json:"executions,omitempty"`
}

// executionView is one recorded execution.
type executionView struct {
	Seq             int64     `json:"seq"`
	EventID         string    `json:"eventId"`
	ExecType        string    `json:"execType"`
	LastQty         string    `json:"lastQty"`
	LastPx          string    `json:"lastPx,omitempty"`
	CumQty          string    `json:"cumQty"`
	LeavesQty       string    `json:"leavesQty"`
	AvgPx           string    `json:"avgPx"`
	TransactTime    time.Time `json:"transactTime"`
	ReceivedAt      time.Time `json:"receivedAt"`
	ProcessedRegion string    `json:"processedRegion"`
}

func viewOrder(o store.OrderState) orderView {
	return orderView{
		OrderID: o.OrderID, AccountID: o.AccountID, Symbol: o.Symbol, Side: string(o.Side),
		Status: string(o.Status), ExecType: string(o.ExecType),
		OrderQty: o.OrderQty.String(), CumQty: o.CumQty.String(), LeavesQty: o.LeavesQty.String(),
		AvgPx: o.AvgPx.String(), Price: o.Price.String(), LastPx: o.LastPx.String(),
		LastSeq: o.LastSeq, LastEventID: o.LastEventID, TransactTime: o.TransactTime,
		UpdatedAt: o.UpdatedAt, ProcessedRegion: o.ProcessedRegion,
	}
}

func viewExecution(e store.Execution) executionView {
	return executionView{
		Seq: e.Seq, EventID: e.EventID, ExecType: string(e.ExecType),
		LastQty: e.LastQty.String(), LastPx: e.LastPx.String(), CumQty: e.CumQty.String(),
		LeavesQty: e.LeavesQty.String(), AvgPx: e.AvgPx.String(),
		TransactTime: e.TransactTime, ReceivedAt: e.ReceivedAt, ProcessedRegion: e.ProcessedRegion,
	}
}

func (a *app) orderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Read orders",
		Example: `  tapctl order get ORD-1001 --env dev
  tapctl order get ORD-1001 --executions --output json`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: needSubcommand,
	}
	cmd.AddCommand(a.orderGetCmd())
	return cmd
}

func (a *app) orderGetCmd() *cobra.Command {
	var useLocal, executions bool
	cmd := &cobra.Command{
		Use:   "get ORDER_ID",
		Short: "Show an order's state (and its executions)",
		Long: `Show an order's current state: the highest seq applied, read with a strongly
consistent read from the orders table of --region (replicas converge within
seconds). --executions adds every recorded execution, in seq order.`,
		Example: `  tapctl order get ORD-1001 --env dev
  tapctl order get ORD-1001 --executions --output json
  tapctl order get ORD-1001 --local
  tapctl order get ord-0000000000002a-000001 --local`,
		Args: oneArg("ORDER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			t, err := a.target(cmd.Context(), useLocal)
			if err != nil {
				return err
			}
			st := t.store()
			o, err := st.GetOrder(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("order %s not found in table %s of %s", args[0], t.table(), t.where())
			}
			if err != nil {
				return err
			}
			v := viewOrder(*o)
			if executions {
				execs, err := st.Executions(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				for _, e := range execs {
					v.Executions = append(v.Executions, viewExecution(e))
				}
			}
			if asJSON {
				return writeJSON(a.env.Stdout, v)
			}
			writeOrder(a.env.Stdout, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&executions, "executions", false, "also list the order's recorded executions")
	cmd.Flags().BoolVar(&useLocal, "local", false, "read from the running local pipeline (tapctl local; with --regions, the primary region's, or the one --region names)")
	return cmd
}

func writeOrder(w io.Writer, v orderView) {
	tw := newTable(w)
	row := func(k, val string) { fmt.Fprintf(tw, "%s\t%s\n", k, val) }
	row("order", v.OrderID)
	row("account", v.AccountID)
	row("instrument", v.Symbol+" "+v.Side)
	row("status", fmt.Sprintf("%s (last %s, seq %d)", v.Status, v.ExecType, v.LastSeq))
	row("quantity", fmt.Sprintf("ordered %s, filled %s, leaves %s", v.OrderQty, v.CumQty, v.LeavesQty))
	row("price", fmt.Sprintf("limit %s, avg %s, last fill %s", orDash(v.Price), v.AvgPx, orDash(v.LastPx)))
	row("transact time", timestamp(v.TransactTime))
	row("last event", v.LastEventID)
	row("updated", fmt.Sprintf("%s in %s", timestamp(v.UpdatedAt), v.ProcessedRegion))
	tw.Flush()
	if len(v.Executions) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "SEQ\tEXEC TYPE\tLAST QTY\tLAST PX\tCUM QTY\tLEAVES\tAVG PX\tTRANSACT TIME\tEVENT ID")
	for _, e := range v.Executions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.ExecType, e.LastQty, orDash(e.LastPx),
			e.CumQty, e.LeavesQty, e.AvgPx, timestamp(e.TransactTime), e.EventID)
	}
	tw.Flush()
}
