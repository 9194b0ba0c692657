package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"offpush/pipeline"
	"offpush/presence"
)

// profileBigGroups compares the two forms of a large group's event: --events messages to
// groups of --group-min..--group-max members given as membership (seeded through the Store,
// the events without recipients), then the same events with recipient lists.
const profileBigGroups = "big-groups"

// Defaults of --profile big-groups: small, a few seconds.
const (
	defaultBigGroupMin    = 10000
	defaultBigGroupMax    = 20000
	defaultBigGroupEvents = 4
	bigGroups             = 2
)

// BigGroupForm is the worker's figures for one form of the big-groups events.
type BigGroupForm struct {
	PushesPerS         float64 `json:"pushes_per_s"`
	Pushes             int64   `json:"pushes"`
	WindowS            float64 `json:"window_s"`
	PeakRSSMB          float64 `json:"peak_rss_mb"` // this process's peak during the window
	KafkaBytesPerEvent float64 `json:"kafka_bytes_per_event"`
	WorkerCPUUsPerPush float64 `json:"worker_cpu_us_per_push"`
}

// BigGroupsResult is the big-groups comparison.
type BigGroupsResult struct {
	Membership     BigGroupForm `json:"membership"`
	RecipientLists BigGroupForm `json:"recipient_lists"`
}

// setBigGroupsDefaults sizes the big-groups profile from flags left unset.
func (c *config) setBigGroupsDefaults(set map[string]bool) {
	if !set["group-min"] {
		c.groupMin = defaultBigGroupMin
	}
	if !set["group-max"] {
		c.groupMax = max(c.groupMin, defaultBigGroupMax)
	}
	if !set["events"] {
		c.events = defaultBigGroupEvents
	}
	if !set["users"] {
		c.users = c.groupMax + 1
	}
	c.groupShare = 1
}

// bigGroupsWorkload is the workload of the profile: every event to one of bigGroups groups.
func (w *workload) bigGroups() { w.Groups, w.GroupShare = bigGroups, 1 }

// seedMembers writes each group's membership: the sender and its fan-out, as event builds
// the recipient list.
func (w *workload) seedMembers(ctx context.Context, store *presence.Store) error {
	for g := range w.Groups {
		k, first := w.group(g)
		ids := make([]string, k+1)
		for j := range ids {
			ids[j] = userID((first + j) % w.Users)
		}
		if _, err := store.ReplaceMembers(ctx, "g"+strconv.Itoa(g), ids); err != nil {
			return err
		}
	}
	return nil
}

// kafkaBytesPerEvent is the mean size of the workload's event values.
func (w *workload) kafkaBytesPerEvent() (float64, error) {
	var total int
	for i := range w.Events {
		b, err := json.Marshal(w.event(i, time.Now()))
		if err != nil {
			return 0, err
		}
		total += len(b)
	}
	return float64(total) / float64(max(w.Events, 1)), nil
}

// bigGroupForm runs one window of w and reads its figures.
func (e *env) bigGroupForm(ctx context.Context, w *workload) (BigGroupForm, error) {
	resetPeakRSS()
	win, err := e.runWindow(ctx, w)
	if err != nil {
		return BigGroupForm{}, err
	}
	d, cpu := win.end.at.Sub(win.start.at), win.end.cpu-win.start.cpu
	f := BigGroupForm{Pushes: win.counts.outcomes[pipeline.OutcomeSent], WindowS: d.Seconds(), PeakRSSMB: float64(peakRSS(win.end.rss)) / (1 << 20)}
	f.PushesPerS, f.WorkerCPUUsPerPush = rate(f.Pushes, d), per(cpu, f.Pushes)
	f.KafkaBytesPerEvent, err = w.kafkaBytesPerEvent()
	return f, err
}

// runBigGroups runs the membership form, then the recipient lists on the same groups (Redis
// flushed and seeded again in between).
func (e *env) runBigGroups(ctx context.Context, w *workload, res *Result, logf func(string, ...any)) error {
	wm := *w
	wm.Run, wm.Members = w.Run+"m", true
	if err := wm.seedMembers(ctx, presenceStore(e.rdb)); err != nil {
		return fmt.Errorf("seed members: %w", err)
	}
	logf("membership: %d events to %d groups of %d..%d members", w.Events, w.Groups, w.GroupMin, w.GroupMax)
	m, err := e.bigGroupForm(ctx, &wm)
	if err != nil {
		return fmt.Errorf("membership window: %w", err)
	}
	if err := e.reseed(ctx, w); err != nil {
		return err
	}
	logf("recipient lists: the same events")
	wr := *w
	wr.Run = w.Run + "r" // message ids of its own: the latency figures stay the first window's
	r, err := e.bigGroupForm(ctx, &wr)
	if err != nil {
		return fmt.Errorf("recipient-list window: %w", err)
	}
	res.BigGroups = &BigGroupsResult{Membership: m, RecipientLists: r}
	return nil
}

// writeBigGroups prints the big-groups comparison, if there is one.
func writeBigGroups(out io.Writer, b *BigGroupsResult) {
	if b == nil {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tmembership\trecipient lists\t\n")
	m, r := b.Membership, b.RecipientLists
	fmt.Fprintf(tw, "pushes/s\t%.0f\t%.0f\t\n", m.PushesPerS, r.PushesPerS)
	fmt.Fprintf(tw, "peak RSS MB\t%.1f\t%.1f\t\n", m.PeakRSSMB, r.PeakRSSMB)
	fmt.Fprintf(tw, "Kafka bytes/event\t%.0f\t%.0f\t\n", m.KafkaBytesPerEvent, r.KafkaBytesPerEvent)
	fmt.Fprintf(tw, "CPU µs/push\t%.1f\t%.1f\t\n", m.WorkerCPUUsPerPush, r.WorkerCPUUsPerPush)
	fmt.Fprintf(tw, "pushes\t%d\t%d\t\n", m.Pushes, r.Pushes)
	tw.Flush()
}
