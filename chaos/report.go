package chaos

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/dlq"
	"offpush/presence"
)

var (
	ledgersMu sync.Mutex
	ledgers   []Ledger
)

// Account draws the scenario's ledger from the simulator's deliveries, the dead-letter topic
// and the workers' last /metrics scrapes, logs it, records it for the summary table and fails
// the test when a push was lost or a problem was found. wiped says Redis came back empty.
func (h *Harness) Account(name string, wiped bool) Ledger {
	h.t.Helper()
	deliveries, err := h.Sim.Deliveries()
	if err != nil {
		h.t.Fatal(err)
	}
	var states map[Pair]presence.PushState
	if len(h.Workload.Recalls) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		states, err = recallStates(ctx, h.store(), h.Workload)
		cancel()
		if err != nil {
			h.t.Fatalf("explain the recalled pushes: %v", err)
		}
	}
	h.mu.Lock()
	in := ledgerInput{w: h.Workload, deliveries: deliveries, deadLetter: h.DeadLetters(),
		inFlight: maps.Clone(h.inFlight), rebalances: slices.Clone(h.rebalances),
		allowExtraDLQ: h.opts.ExpectRetryExhaustion, metrics: h.metricsSum(), metricsOK: h.metricsOK, wiped: wiped,
		kills: slices.Clone(h.kills), recallStates: states}
	h.mu.Unlock()
	l := draw(name, in)
	l.Note = h.note
	h.logf("dead letters by reason: %v", dlqReasons(in.deadLetter))
	h.logf("ledger:\n%s\n%s", TableHeader, l.Row())
	h.logf("repeats: %d, of pairs in flight at a kill or fault (%d pairs were): %d, at a rebalance: %d",
		l.Duplicates, l.InFlight, l.Duplicates-l.AtRebalance, l.AtRebalance)
	h.logf("skips by reason: workload %v, workers' metrics %v", h.Workload.Skips, l.MetricSkips)
	if l.Recall != nil {
		h.logf("%s", l.Recall)
	}
	ledgersMu.Lock()
	ledgers = append(ledgers, l)
	ledgersMu.Unlock()
	if l.Lost > 0 {
		h.t.Errorf("%s: %d pushes lost", name, l.Lost)
	}
	for i, p := range l.Problems {
		if i == 10 {
			h.t.Errorf("… and %d more problems", len(l.Problems)-i)
			break
		}
		h.t.Error(p)
	}
	return l
}

// metricsSum adds up the last scrape of every worker that ran.
func (h *Harness) metricsSum() Metrics {
	sum := Metrics{Pushes: map[string]float64{}, DLQ: map[string]float64{}, Revokes: map[string]float64{}}
	for _, w := range h.workers {
		m, _ := w.Metrics()
		for k, v := range m.Pushes {
			sum.Pushes[k] += v
		}
		for k, v := range m.DLQ {
			sum.DLQ[k] += v
		}
		for k, v := range m.Revokes {
			sum.Revokes[k] += v
		}
	}
	return sum
}

// PrintTable writes the ledger table of every scenario accounted so far, sorted by name.
func PrintTable(w io.Writer) {
	ledgersMu.Lock()
	defer ledgersMu.Unlock()
	if len(ledgers) == 0 {
		return
	}
	rows := slices.Clone(ledgers)
	slices.SortFunc(rows, func(a, b Ledger) int {
		if a.Scenario < b.Scenario {
			return -1
		}
		return 1
	})
	fmt.Fprintln(w, "\nchaos ledger (expected = delivered + skipped + DLQ + lost; duplicates only among pushes in flight at a kill or fault):")
	fmt.Fprintln(w, TableHeader)
	for _, l := range rows {
		fmt.Fprintln(w, l.Row())
	}
	for _, l := range rows {
		if l.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", l.Scenario, l.Note)
		}
		if l.Recall != nil {
			fmt.Fprintf(w, "%s: %s\n", l.Scenario, l.Recall)
		}
	}
}

// Note records what the scenario measured besides the ledger's counts, for its ledger line.
func (h *Harness) Note(format string, args ...any) {
	h.note = fmt.Sprintf(format, args...)
	h.logf("%s", h.note)
}

// dlqReasons counts dead letters by offpush-reason, with the first error text of each.
func dlqReasons(msgs []kafka.Message) map[string]string {
	n := map[string]int{}
	first := map[string]string{}
	for _, m := range msgs {
		r := dlq.Header(m.Headers, dlq.HeaderReason)
		if n[r]++; n[r] == 1 {
			first[r] = dlq.Header(m.Headers, dlq.HeaderError)
		}
	}
	out := map[string]string{}
	for r, c := range n {
		out[r] = fmt.Sprintf("%d (e.g. %q)", c, first[r])
	}
	return out
}
