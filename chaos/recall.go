package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"offpush/presence"
	"offpush/render"
)

// RecallLedger is the account of the recalled messages of a scenario, per (message, device)
// of the workload's expected pushes. On each, in the simulator's order, the original was
// either never delivered (prevented: the store says revoked), or delivered and then replaced
// by exactly one notification with its apns-collapse-id, the recall's apns-id, body "…
// recalled a message", no sound and interruption-level passive; never an original after its
// replacement. A replacement repeats only across a kill (sent by the killed worker, which
// could not record it); one without the original delivered only where the original was in
// flight at a kill or fault (maybe sent: the recall replaces it to be sure).
type RecallLedger struct {
	Messages  int // recalled messages
	Recalled  int // expected pushes of recalled messages
	Delivered int // of them, the original delivered
	Replaced  int // delivered, then replaced as it must be
	Prevented int // never delivered, the store says revoked
	Blind     int // replaced without the original delivered: it was in flight at a kill or fault
	InFlight  int // recalled pushes pending at a kill or fault (the ones a crash can get wrong)
	Repeats   int // repeated replacements, across a kill
	// Violations are what must not happen, one line each.
	Violations []string
	// MetricReplaced, MetricPrevented and MetricSkipped are the workers' counts (last
	// scrapes): offpush_revokes_total by result (per recipient device, foreground and push-off
	// ones too) and offpush_pushes_total{outcome="skipped",reason="revoked"}.
	MetricReplaced, MetricPrevented, MetricSkipped int
}

// String is the ledger's figures in one line.
func (r *RecallLedger) String() string {
	return fmt.Sprintf("recalls: %d messages, %d pushes recalled (%d in flight at a kill): %d delivered (%d replaced once, %d replacement repeats across a kill), %d prevented, %d replaced blind (in flight at a kill); violations %d; metrics: replaced %d, prevented %d, skipped revoked %d",
		r.Messages, r.Recalled, r.InFlight, r.Delivered, r.Replaced, r.Repeats, r.Prevented, r.Blind, len(r.Violations),
		r.MetricReplaced, r.MetricPrevented, r.MetricSkipped)
}

// isReplacement reports whether d is a recall's replacement (its body is the sender and
// "recalled a message").
func isReplacement(d *Delivery) bool {
	return strings.HasSuffix(d.Body(), " "+render.DefaultRecalled)
}

// checkRecalls draws the recall ledger of in, and returns the pushes it found prevented or
// replaced without the original delivered (for the main ledger: skipped, not lost) and the deliveries that are not replacements
// (for the main ledger's count of originals and repeats).
func checkRecalls(in ledgerInput) (*RecallLedger, map[Pair]bool, []Delivery) {
	r := &RecallLedger{Messages: len(in.w.Recalls),
		MetricReplaced: int(in.metrics.Revokes["replaced"]), MetricPrevented: int(in.metrics.Revokes["prevented"]),
		MetricSkipped: int(in.metrics.Pushes["skipped/revoked"])}
	origs, reps := map[Pair][]int{}, map[Pair][]int{}
	var rest []Delivery
	for i := range in.deliveries {
		d := &in.deliveries[i]
		p := Pair{d.Headers.CollapseID, d.Token}
		if !isReplacement(d) {
			rest = append(rest, *d)
			if in.w.Recalls[p.Msg] != "" {
				origs[p] = append(origs[p], i)
			}
			continue
		}
		reps[p] = append(reps[p], i)
		r.checkReplacement(in.w, p, d)
	}
	prevented := map[Pair]bool{}
	for _, p := range slices.SortedFunc(func(yield func(Pair) bool) {
		for p := range in.w.Pushes {
			if in.w.Recalls[p.Msg] != "" && !yield(p) {
				return
			}
		}
	}, comparePairs) {
		r.Recalled++
		if _, ok := in.inFlight[p]; ok {
			r.InFlight++
		}
		o, rp := origs[p], reps[p]
		at := func(idx []int) string {
			ts := make([]time.Time, len(idx))
			for k, i := range idx {
				ts[k] = in.deliveries[i].ReceivedAt
			}
			return clock(ts)
		}
		if len(o) > 0 {
			r.Delivered++
		}
		switch {
		case len(o) == 0 && len(rp) == 0:
			if in.recallStates[p] == presence.PushRevoked {
				r.Prevented++
				prevented[p] = true
			} // else lost: the main ledger counts it
		case len(o) == 0:
			prevented[p] = true // not lost: the recall answered for it
			if _, ok := in.inFlight[p]; !ok {
				r.violate("message %s replaced on device %.12s… (at %s) but never delivered, nor in flight at a kill or fault", p.Msg, p.Token, at(rp))
				continue
			}
			r.Blind++
		case len(rp) == 0:
			r.violate("message %s delivered to device %.12s… (at %s) and recalled, but never replaced", p.Msg, p.Token, at(o))
		default:
			ok := true
			if o[len(o)-1] > rp[0] {
				ok = false
				r.violate("message %s delivered to device %.12s… (at %s) after its replacement (at %s)", p.Msg, p.Token, at(o), at(rp))
			}
			if len(rp) > 1 {
				ts := make([]time.Time, len(rp))
				for k, i := range rp {
					ts[k] = in.deliveries[i].ReceivedAt
				}
				if acrossKill(in.kills, ts) {
					r.Repeats += len(rp) - 1
				} else {
					ok = false
					r.violate("message %s replaced %d times on device %.12s… (at %s), not across a kill", p.Msg, len(rp), p.Token, at(rp))
				}
			}
			if ok {
				r.Replaced++
			}
		}
	}
	return r, prevented, rest
}

// checkReplacement checks one replacement delivery d of pair p: a recalled message, a device
// its original was for, the recall's apns-id, no sound, interruption-level passive.
func (r *RecallLedger) checkReplacement(w *Workload, p Pair, d *Delivery) {
	recall := w.Recalls[p.Msg]
	switch _, want := w.Pushes[p]; {
	case recall == "":
		r.violate("replacement (%q) with collapse id %s on device %.12s…: that message was not recalled", d.Body(), p.Msg, p.Token)
	case !want:
		r.violate("replacement of %s on device %.12s…, which its original was not for (foreground, push off, …)", p.Msg, p.Token)
	case d.Headers.ID != render.APNsID(recall, d.Token):
		r.violate("replacement of %s on device %.12s…: apns-id %s, want the recall's %s", p.Msg, p.Token, d.Headers.ID, render.APNsID(recall, d.Token))
	case len(d.Payload.APS.Sound) > 0 || d.Payload.APS.InterruptionLevel != "passive":
		r.violate("replacement of %s on device %.12s…: sound %s, interruption-level %q, want none and passive", p.Msg, p.Token, d.Payload.APS.Sound, d.Payload.APS.InterruptionLevel)
	}
}

func (r *RecallLedger) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// killSlack is how long after a kill the simulator may still accept a request of the killed
// worker: one whose answer delay had run out when the connection went.
const killSlack = time.Second

// acrossKill reports whether the first of ts is before a kill (within killSlack after it) and
// the others after: the killed worker sent the replacement but could not record it, its
// successor sent it again.
func acrossKill(kills []time.Time, ts []time.Time) bool {
	for _, k := range kills {
		k = k.Add(killSlack)
		if ts[0].Before(k) && !slices.ContainsFunc(ts[1:], func(t time.Time) bool { return t.Before(k) }) {
			return true
		}
	}
	return false
}

func comparePairs(a, b Pair) int {
	if c := strings.Compare(a.Msg, b.Msg); c != 0 {
		return c
	}
	return strings.Compare(a.Token, b.Token)
}

// recallStates asks the store what became of each expected push of a recalled message.
func recallStates(ctx context.Context, s *presence.Store, w *Workload) (map[Pair]presence.PushState, error) {
	type userMsg struct{ user, msg string }
	asked := map[userMsg]bool{}
	out := map[Pair]presence.PushState{}
	for p, user := range w.Pushes {
		um := userMsg{user, p.Msg}
		if w.Recalls[p.Msg] == "" || asked[um] {
			continue
		}
		asked[um] = true
		recs, err := s.Explain(ctx, user, p.Msg)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			out[Pair{p.Msg, rec.Token}] = rec.State
		}
	}
	return out, nil
}
