package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"offpush/dlq"
	"offpush/event"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Options configure Run. Zero values take the defaults noted.
type Options struct {
	Brokers  []string
	Dialer   *kafka.Dialer // TLS/SASL; nil = plain TCP
	DLQTopic string        // dead-letter topic to read, default im.push.dlq
	Topic    string        // events topic replays go to, default im.messages
	GroupID  string        // consumer group of the replay, default offpush-replay

	// Reasons selects records by offpush-reason; empty = every reason but invalid_event.
	Reasons []string
	// Since and Until select records whose failure time (offpush-failed-at, else the record
	// timestamp) is in [Since, Until); a zero time leaves that side open.
	Since, Until time.Time
	// Users selects records whose narrowed event is addressed to one of them; empty = all.
	Users []string
	// Max stops the run after that many replays (or would-be replays with DryRun); 0 = no limit.
	Max int
	// MaxAge skips records that failed before Now()-MaxAge (counted as too old); 0 = no limit.
	MaxAge time.Duration
	// DryRun publishes and commits nothing; it writes one JSON line per record it would replay
	// to Output.
	DryRun bool
	Output io.Writer // dry-run lines; nil = discarded
	// Idle stops a run that received no record for that long before catching up, default 30s.
	Idle time.Duration
	// Progress receives a progress line (every 200ms on a terminal, rewritten in place; every
	// 5s otherwise), notes and the final summary; nil = none.
	Progress io.Writer
	Now      func() time.Time
}

// DefaultGroupID is the consumer group of a replay unless Options.GroupID says otherwise.
const DefaultGroupID = "offpush-replay"

// batchSize is the most records re-published (and committed) at once.
const batchSize = 500

func (o *Options) setDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.DLQTopic, dlq.DefaultTopic)
	def(&o.Topic, event.DefaultTopic)
	def(&o.GroupID, DefaultGroupID)
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// validate names the first unusable option.
func (o *Options) validate() error {
	switch {
	case len(o.Brokers) == 0:
		return errors.New("replay: Brokers: none given")
	case o.DLQTopic == o.Topic:
		return fmt.Errorf("replay: DLQTopic and Topic are both %q", o.Topic)
	case o.Max < 0:
		return fmt.Errorf("replay: Max: %d is negative", o.Max)
	case o.MaxAge < 0:
		return fmt.Errorf("replay: MaxAge: %s is negative", o.MaxAge)
	case !o.Since.IsZero() && !o.Until.IsZero() && !o.Since.Before(o.Until):
		return fmt.Errorf("replay: Since (%s) is not before Until (%s)", o.Since.Format(time.RFC3339), o.Until.Format(time.RFC3339))
	}
	return nil
}

// Summary counts what a run did with the records it read: Read = Replayed + SkippedFilter +
// SkippedTooOld + Invalid.
type Summary struct {
	Read          int
	Replayed      int // re-published and acknowledged (with DryRun: would have been)
	SkippedFilter int // not selected by the filters, Refused included
	SkippedTooOld int // failed before now - MaxAge
	Invalid       int // not an offpush dead letter, or its value is not a valid event
	Refused       int // invalid_event records skipped because Reasons did not name invalid_event
	DryRun        bool
}

// String is the summary as one line.
func (s Summary) String() string {
	var b strings.Builder
	verb := "replayed"
	if s.DryRun {
		verb = "would replay"
	}
	fmt.Fprintf(&b, "read %d, %s %d, skipped %d by filter", s.Read, verb, s.Replayed, s.SkippedFilter)
	if s.Refused > 0 {
		fmt.Fprintf(&b, " (%d invalid_event refused: name --reason invalid_event to replay them)", s.Refused)
	}
	fmt.Fprintf(&b, ", %d too old, %d invalid", s.SkippedTooOld, s.Invalid)
	return b.String()
}

func (s *Summary) add(o Summary) {
	s.Read += o.Read
	s.Replayed += o.Replayed
	s.SkippedFilter += o.SkippedFilter
	s.SkippedTooOld += o.SkippedTooOld
	s.Invalid += o.Invalid
	s.Refused += o.Refused
}

// Run replays the dead letters o selects (see the package comment) and returns what it did.
// The Summary is valid with an error too: it counts the batches committed before it.
func Run(ctx context.Context, o Options) (Summary, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return Summary{DryRun: o.DryRun}, err
	}
	r := &run{opts: o, filter: newFilter(o), sum: Summary{DryRun: o.DryRun}}
	r.prog = startProgress(o.Progress, r.summary)
	err := r.run(ctx)
	sum := r.summary()
	r.prog.finish(sum)
	return sum, err
}

// run is one Run: its options, filter and the counts so far.
type run struct {
	opts   Options
	filter filter
	prog   *progress

	mu  sync.Mutex
	sum Summary
}

func (r *run) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sum
}

func (r *run) count(batch Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.add(batch)
}

func (r *run) maxReached(pending int) bool {
	return r.opts.Max > 0 && r.summary().Replayed+pending >= r.opts.Max
}

// run reads the catch-up plan, then handles batches until the plan is done, Max is reached,
// the DLQ stays idle or ctx ends.
func (r *run) run(ctx context.Context) error {
	pl, err := loadPlan(ctx, r.opts)
	if err != nil {
		return err
	}
	if pl.done() {
		return nil
	}
	rd := newReader(r.opts, r.note)
	defer rd.Close()
	w := newWriter(r.opts)
	defer w.Close()
	f := startFetcher(ctx, rd)
	defer f.stop()
	for !pl.done() && !r.maxReached(0) {
		batch, err := f.next(ctx, r.opts.Idle)
		if errors.Is(err, errIdle) {
			r.note(fmt.Sprintf("no record for %s: stopping at positions %s short of end offsets %s",
				r.opts.Idle, pl.remaining(), pl.end))
			return nil
		}
		if err != nil {
			return interrupted(ctx, err)
		}
		if err := r.handle(ctx, batch, pl, rd, w); err != nil {
			return interrupted(ctx, err)
		}
	}
	return nil
}

// interrupted words the error of a run that stopped early.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("replay interrupted (run again with the same group to resume): %w", context.Cause(ctx))
	}
	return err
}

func (r *run) note(msg string) { r.prog.note(msg) }

// handle classifies batch, re-publishes what it selects with acks=all and then commits every
// record it handled. Records past the plan's end offsets, or past Max, are left alone.
func (r *run) handle(ctx context.Context, batch []kafka.Message, pl *plan, rd *kafka.Reader, w *kafka.Writer) error {
	var got Summary
	var out, done []kafka.Message
	for _, m := range batch {
		if r.maxReached(got.Replayed) {
			break
		}
		if !pl.take(m) {
			continue
		}
		rec := parse(m)
		v := r.filter.classify(rec)
		got.tally(v)
		done = append(done, m)
		if v != replay {
			continue
		}
		if r.opts.DryRun {
			if err := printDry(r.opts.Output, rec); err != nil {
				return err
			}
			continue
		}
		out = append(out, rec.Republished())
	}
	if err := r.publish(ctx, w, out); err != nil {
		return err
	}
	if err := r.commit(ctx, rd, done); err != nil {
		return err
	}
	r.count(got)
	return nil
}

// publish writes msgs to the events topic and returns once Kafka acknowledged all of them.
func (r *run) publish(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("re-publish %d records to %s: %w", len(msgs), r.opts.Topic, err)
	}
	return nil
}

// commit commits the offsets of msgs for the group, unless DryRun. What was published is
// committed even when ctx has just been cancelled, so an interrupted run does not repeat it.
func (r *run) commit(ctx context.Context, rd *kafka.Reader, msgs []kafka.Message) error {
	if r.opts.DryRun || len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := rd.CommitMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("commit %d records of %s for group %s: %w", len(msgs), r.opts.DLQTopic, r.opts.GroupID, err)
	}
	return nil
}
