package chaos

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/dlq"
	"offpush/presence"
)

// Ledger is the account of one scenario. Units are (message, device) pairs for pushes and
// dead letters, and the pipeline's skip units (one per device, or one per recipient for
// no_device and push-level rules) for skips:
//
//	Expected = Delivered + Skipped + DLQ + Lost
type Ledger struct {
	Scenario   string
	Expected   int // expected pushes + expected dead letters + expected skips
	Delivered  int // expected pushes the simulator accepted (distinct pairs)
	Skipped    int // skips of the workload, plus pushes explained by no_device after a wipe
	DLQ        int // pairs in the dead-letter topic and not delivered
	Replayed   int // pairs dead-lettered, replayed and then delivered
	Duplicates int // repeat deliveries of a pair
	Lost       int // expected pairs neither delivered, dead-lettered nor explained

	// InFlight is how many pairs were pending at a kill, stop or fault: the allowed repeats.
	InFlight int
	// AtRebalance counts the repeats (of Duplicates) of pairs that were not in flight at a
	// kill or fault but were sent twice while the group rebalanced (each one is a problem).
	AtRebalance int
	// MetricSkips are the skip counts of the workers' /metrics, by reason.
	MetricSkips map[string]int
	// Problems are violations besides Lost: repeats outside the in-flight pairs or with a new
	// badge, deliveries nobody expected, metrics that miss skips.
	Problems []string
	// Note is what the scenario measured besides the counts (Harness.Note), printed under
	// the table.
	Note string
	// Recall is the account of the recalled messages, when the workload recalls some; its
	// violations are among Problems, its prevented pushes among Skipped.
	Recall *RecallLedger
}

// deliveryStats is what the simulator saw of one pair.
type deliveryStats struct {
	count  int
	badges map[int64]bool
	times  []time.Time
}

// ledgerInput is everything a Ledger is drawn from.
type ledgerInput struct {
	w             *Workload
	deliveries    []Delivery
	deadLetter    []kafka.Message
	inFlight      map[Pair]string
	rebalances    []time.Time // when the group's membership changed
	allowExtraDLQ bool        // pushes may end in the DLQ besides the workload's
	metrics       Metrics
	metricsOK     bool                        // the metrics hold every count of the run
	wiped         bool                        // Redis came back empty during the run
	kills         []time.Time                 // when a worker was killed with SIGKILL
	recallStates  map[Pair]presence.PushState // what the store says of each recalled push
}

// draw computes the ledger of in.
func draw(name string, in ledgerInput) Ledger {
	l := Ledger{Scenario: name, InFlight: len(in.inFlight), MetricSkips: metricSkips(in.metrics)}
	l.Expected = len(in.w.Pushes) + len(in.w.DLQ) + in.w.SkipTotal()
	l.Skipped = in.w.SkipTotal()
	var prevented map[Pair]bool
	if len(in.w.Recalls) > 0 {
		l.Recall, prevented, in.deliveries = checkRecalls(in)
		l.Problems = append(l.Problems, l.Recall.Violations...)
	}
	seen := l.countDeliveries(in)
	dead := deadPairs(in.deadLetter)
	var missing []Pair
	for p := range in.w.Pushes {
		switch _, dl := dead[p]; {
		case seen[p] != nil:
			l.Delivered++
			if dl {
				l.Replayed++
			}
		case dl:
			l.DLQ++
		case prevented[p]:
			l.Skipped++ // recalled before it was pushed
		default:
			missing = append(missing, p)
		}
	}
	for p := range in.w.DLQ {
		if _, ok := dead[p]; ok {
			l.DLQ++
		} else {
			missing = append(missing, p)
		}
	}
	if extra := l.DLQ + l.Replayed - len(in.w.DLQ); extra > 0 && !in.allowExtraDLQ {
		l.Problems = append(l.Problems, fmt.Sprintf("%d pushes dead-lettered besides the %d unknown certificates", extra, len(in.w.DLQ)))
	}
	if in.wiped {
		missing = l.explainWipe(in, seen, missing)
	} else if in.metricsOK {
		l.checkMetricSkips(in.w)
	}
	l.Lost = len(missing)
	for _, p := range missing[:min(len(missing), 5)] {
		l.Problems = append(l.Problems, fmt.Sprintf("lost: message %s to device %.12s…", p.Msg, p.Token))
	}
	return l
}

// countDeliveries groups the deliveries by pair, counts duplicates and checks each repeat.
func (l *Ledger) countDeliveries(in ledgerInput) map[Pair]*deliveryStats {
	seen := map[Pair]*deliveryStats{}
	for _, d := range in.deliveries {
		p := Pair{d.Headers.CollapseID, d.Token}
		s := seen[p]
		if s == nil {
			s = &deliveryStats{badges: map[int64]bool{}}
			seen[p] = s
		}
		s.count++
		s.times = append(s.times, d.ReceivedAt)
		badge := int64(-1)
		if d.Payload.APS.Badge != nil {
			badge = *d.Payload.APS.Badge
		}
		s.badges[badge] = true
	}
	for p, s := range seen {
		if _, ok := in.w.Pushes[p]; !ok {
			l.Problems = append(l.Problems, fmt.Sprintf("unexpected delivery: message %s to device %.12s…", p.Msg, p.Token))
			continue
		}
		if s.count == 1 {
			continue
		}
		l.Duplicates += s.count - 1
		l.checkRepeat(in, p, s)
		if len(s.badges) > 1 {
			l.Problems = append(l.Problems, fmt.Sprintf("message %s delivered %d times to device %.12s… with badges %v", p.Msg, s.count, p.Token, slices.Sorted(maps.Keys(s.badges))))
		}
	}
	return seen
}

// checkRepeat accepts the repeats of p only when p was in flight at a kill or fault; a repeat
// during a rebalance is a problem too, counted apart to say where it happened.
func (l *Ledger) checkRepeat(in ledgerInput, p Pair, s *deliveryStats) {
	if _, ok := in.inFlight[p]; ok {
		return
	}
	if inRebalance(in.rebalances, s.times) {
		l.AtRebalance += s.count - 1
		l.Problems = append(l.Problems, fmt.Sprintf("message %s delivered %d times to device %.12s… (at %s) during a rebalance, not in flight at a kill or fault",
			p.Msg, s.count, p.Token, clock(s.times)))
		return
	}
	l.Problems = append(l.Problems, fmt.Sprintf("message %s delivered %d times to device %.12s… (at %s) but it was not in flight at a kill or fault",
		p.Msg, s.count, p.Token, clock(s.times)))
}

// rebalanceWindow is how long after a membership change the group may still be settling: a
// session timeout (6s) for a dead member to be noticed plus a join round.
const rebalanceWindow = 12 * time.Second

// inRebalance reports whether every time of ts is within rebalanceWindow after one change.
func inRebalance(changes []time.Time, ts []time.Time) bool {
	for _, c := range changes {
		all := true
		for _, t := range ts {
			if t.Before(c) || t.After(c.Add(rebalanceWindow)) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// clock formats delivery times as hh:mm:ss.mmm.
func clock(ts []time.Time) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format("15:04:05.000")
	}
	return strings.Join(out, ", ")
}

// tokenInError finds the device token in a dead letter's offpush-error text.
var tokenInError = regexp.MustCompile(`token ([0-9a-f]{64})`)

// deadPairs maps the dead letters to pairs: the narrowed event's id and the token named in
// offpush-error. Records without a token (invalid events) are left out.
func deadPairs(msgs []kafka.Message) map[Pair]string {
	out := map[Pair]string{}
	for _, m := range msgs {
		var ev struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(m.Value, &ev)
		tok := tokenInError.FindStringSubmatch(dlq.Header(m.Headers, dlq.HeaderError))
		if ev.ID == "" || tok == nil {
			continue
		}
		out[Pair{ev.ID, tok[1]}] = dlq.Header(m.Headers, dlq.HeaderReason)
	}
	return out
}

// metricSkips sums the skipped outcomes of m by reason.
func metricSkips(m Metrics) map[string]int {
	out := map[string]int{}
	for k, v := range m.Pushes {
		if reason, ok := strings.CutPrefix(k, "skipped/"); ok && v > 0 {
			out[reason] += int(v)
		}
	}
	return out
}

// checkMetricSkips checks that the workers counted at least the workload's skips (a
// redelivered event counts its skips again, so more is fine).
func (l *Ledger) checkMetricSkips(w *Workload) {
	for reason, want := range w.Skips {
		if got := l.MetricSkips[reason]; got < want {
			l.Problems = append(l.Problems, fmt.Sprintf("metrics count %d skips %s, the workload has %d", got, reason, want))
		}
	}
}

// explainWipe accounts for the pushes a Redis that came back empty cannot make: each event is
// looked up and claimed in one batch, so an event whose pushes are missing must have none
// delivered, and the workers must have counted no_device skips for it: at least one per
// missing device (claim found the device gone) or one per recipient that had devices (the
// lookup found none). Explained pairs move to Skipped; the others stay missing.
func (l *Ledger) explainWipe(in ledgerInput, seen map[Pair]*deliveryStats, missing []Pair) []Pair {
	byEvent := map[string][]Pair{}
	for _, p := range missing {
		byEvent[p.Msg] = append(byEvent[p.Msg], p)
	}
	need := 0
	var unexplained []Pair
	for _, e := range in.w.Events {
		pairs := byEvent[e.ID]
		if len(pairs) == 0 {
			continue
		}
		if in.w.deliveredAny(e, seen) {
			unexplained = append(unexplained, pairs...)
			continue
		}
		need += min(len(pairs), in.w.recipientsWithDevices(e))
	}
	extra := l.MetricSkips["no_device"] - in.w.Skips["no_device"]
	if extra < need {
		l.Problems = append(l.Problems, fmt.Sprintf("after the wipe: %d more no_device skips counted, at least %d needed to explain the missing pushes", extra, need))
		return missing
	}
	l.Skipped += len(missing) - len(unexplained)
	return unexplained
}

// deliveredAny reports whether any push of e was delivered.
func (w *Workload) deliveredAny(e Event, seen map[Pair]*deliveryStats) bool {
	for _, id := range e.Recipients {
		for _, d := range w.users[id].Devices {
			if seen[Pair{e.ID, d.Token}] != nil {
				return true
			}
		}
	}
	return false
}

// recipientsWithDevices counts e's recipients that have at least one device.
func (w *Workload) recipientsWithDevices(e Event) int {
	n := 0
	for _, id := range e.Recipients {
		if len(w.users[id].Devices) > 0 {
			n++
		}
	}
	return n
}

// Row is the ledger as a table row.
func (l Ledger) Row() string {
	dlq := fmt.Sprint(l.DLQ)
	if l.Replayed > 0 {
		dlq = fmt.Sprintf("%d (+%d replayed)", l.DLQ, l.Replayed)
	}
	dup := fmt.Sprint(l.Duplicates)
	if l.AtRebalance > 0 {
		dup = fmt.Sprintf("%d (%d at rebalance)", l.Duplicates, l.AtRebalance)
	}
	return fmt.Sprintf("| %-31s | %8d | %9d | %7d | %-18s | %-22s | %4d |", l.Scenario, l.Expected, l.Delivered, l.Skipped, dlq, dup, l.Lost)
}

// TableHeader is the header of the ledger table.
const TableHeader = "| scenario                        | expected | delivered | skipped | DLQ                | duplicates             | lost |\n" +
	"|---------------------------------|----------|-----------|---------|--------------------|------------------------|------|"
