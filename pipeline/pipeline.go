package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/semaphore"

	"offpush/apns"
	"offpush/dlq"
	"offpush/event"
	"offpush/kafkaconn"
	"offpush/render"
)

// Options configure a Pipeline. Zero values take the defaults noted.
type Options struct {
	Brokers        []string
	Topic          string        // events topic, default im.messages
	DLQTopic       string        // dead-letter topic, default im.push.dlq
	GroupID        string        // consumer group, default offpush
	Dialer         *kafka.Dialer // TLS/SASL; nil = plain TCP
	SessionTimeout time.Duration // default 10s (≥ 6s against kfake)
	CommitInterval time.Duration // default 1s
	QueueSize      int           // records kafka-go buffers ahead of the fetch loop, default 1024
	BatchSize      int           // recipients per Redis round trip, default 500
	// MaxEvents and MaxBytes bound the events admitted and not finished (and their value
	// bytes), over all keys: the fetch loop waits while either is reached. Defaults 2000 and
	// 64 MiB. An event larger than MaxBytes runs alone.
	MaxEvents int
	MaxBytes  int64
	// LargeEvent is the number of recipients above which an event is large: its batches go
	// through the bulk lane, and its pushes wait behind those of small events for APNs
	// in-flight slots. Default 200.
	LargeEvent int
	// FanoutWindow is how many batches of one event are in flight at once (the lookup and
	// claim of the next overlap the sends of the earlier ones); default 4.
	FanoutWindow int
	// BulkBatches bounds the batches of large events in flight at once, over all events;
	// default 16.
	BulkBatches int
	// MaxPushes bounds the pushes in progress (waiting for an APNs slot, in flight, or
	// between retries), over all events: each holds a goroutine. Small events' pushes take a
	// free one before large events'. Default 4096, about twice apns.Options.InFlight.
	MaxPushes int
	// MaxRecipients bounds the recipients of small events (the fast lane) being looked up,
	// claimed or pushed at once, so that a backlog of small groups does not hold thousands of
	// prepared batches in memory; default 20000. (Large events are bounded by BulkBatches.)
	MaxRecipients int
	Expiry        time.Duration // push expiry window, default 24h
	// Texts are the preview texts and loc-key choice of rendering (render.Options; its
	// Expiry is Expiry above).
	Texts          render.Options
	MaxAttempts    int           // APNs attempts per push, default 5
	MaxElapsed     time.Duration // retry budget per push, default 30s
	InitialBackoff time.Duration // first retry delay, default 100ms
	ShutdownGrace  time.Duration // drain limit after the fetch loop stops, default 25s

	Logger *slog.Logger
	Meter  metric.MeterProvider
	Tracer trace.TracerProvider // spans per event, lookup, claim and APNs send; nil = none
	Now    func() time.Time
}

// Defaults of Options (and of the configuration's kafka and pipeline sections).
const (
	DefaultGroupID        = "offpush"
	DefaultSessionTimeout = 10 * time.Second
	DefaultCommitInterval = time.Second
	DefaultQueueSize      = 1024
	DefaultBatchSize      = 500
	DefaultMaxEvents      = 2000
	DefaultMaxBytes       = 64 << 20
	DefaultLargeEvent     = 200
	DefaultFanoutWindow   = 8
	DefaultBulkBatches    = 16
	DefaultMaxPushes      = 4096
	DefaultMaxRecipients  = 20000
	DefaultMaxAttempts    = 5
	DefaultMaxElapsed     = 30 * time.Second
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultShutdownGrace  = 25 * time.Second
)

func (o *Options) setDefaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	defS := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	defS(&o.Topic, event.DefaultTopic)
	defS(&o.DLQTopic, dlq.DefaultTopic)
	defS(&o.GroupID, DefaultGroupID)
	defD(&o.SessionTimeout, DefaultSessionTimeout)
	defD(&o.CommitInterval, DefaultCommitInterval)
	def(&o.QueueSize, DefaultQueueSize)
	def(&o.BatchSize, DefaultBatchSize)
	def(&o.MaxEvents, DefaultMaxEvents)
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	def(&o.LargeEvent, DefaultLargeEvent)
	def(&o.FanoutWindow, DefaultFanoutWindow)
	def(&o.BulkBatches, DefaultBulkBatches)
	def(&o.MaxPushes, DefaultMaxPushes)
	def(&o.MaxRecipients, DefaultMaxRecipients)
	defD(&o.Expiry, render.DefaultExpiry)
	def(&o.MaxAttempts, DefaultMaxAttempts)
	defD(&o.MaxElapsed, DefaultMaxElapsed)
	defD(&o.InitialBackoff, DefaultInitialBackoff)
	defD(&o.ShutdownGrace, DefaultShutdownGrace)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Meter == nil {
		o.Meter = noop.NewMeterProvider()
	}
	if o.Tracer == nil {
		o.Tracer = tracenoop.NewTracerProvider()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Pipeline consumes message events and pushes them. Create it with New and run it with Run.
type Pipeline struct {
	opts    Options
	store   Store
	apns    Sender
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer
	offsets *offsets
	dlq     deadLetterWriter
	kafka   *kafka.Client // reads the group's committed offsets before a commit
	sched   *scheduler
	gos     *goPool             // goroutines of events and pushes, reused across both
	lanes   [2]Store            // by apns.Lane: the store that small, or large, events' batches use
	merged  []*coalescer        // the lanes' stores, merging the Redis calls of concurrent events
	bulk    chan struct{}       // slots of the bulk lane: batches of large events in flight
	pushes  *apns.Slots         // pushes in progress, by lane
	fast    *semaphore.Weighted // recipients of small events in progress

	// noTracing: the tracer provider is the no-op one, so events start no span at all.
	noTracing bool

	// stopping is closed when the fetch loop stops: retries give up early to let the drain end.
	stopping chan struct{}
	killed   chan struct{}
	killOnce sync.Once
	readyMu  sync.Mutex
	joined   bool
}

// New builds a pipeline from its dependencies (a *presence.Store and an *apns.Pool in
// production); nothing connects until Run.
func New(opts Options, store Store, sender Sender) (*Pipeline, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("pipeline: no Kafka brokers")
	}
	opts.setDefaults()
	p, err := newPipeline(opts, store, sender, newDLQWriter(opts))
	if err != nil {
		return nil, err
	}
	// One coalescer per lane: a one-to-one lookup is never merged into, or queued behind, a
	// large group's 500-user pipeline. The bulk lane has one runner per kind of call
	// (bulkMergeRunners), so that Redis, which serves its clients' pipelines in turn, has at
	// most one large pipeline of each kind in front of a small event's call.
	for lane := range p.lanes {
		runners := mergeRunners
		if apns.Lane(lane) == apns.Bulk {
			runners = bulkMergeRunners
		}
		c := newCoalescer(store, runners)
		p.lanes[lane], p.merged = c, append(p.merged, c)
	}
	return p, nil
}

// newPipeline wires a pipeline around its stages; opts has its defaults.
func newPipeline(opts Options, store Store, sender Sender, dlq deadLetterWriter) (*Pipeline, error) {
	m, err := newMetrics(opts.Meter)
	if err != nil {
		return nil, fmt.Errorf("pipeline metrics: %w", err)
	}
	p := &Pipeline{
		opts: opts, store: store, lanes: [2]Store{store, store}, apns: sender, log: opts.Logger, metrics: m, dlq: dlq,
		tracer:   opts.Tracer.Tracer("offpush/pipeline"),
		offsets:  newOffsets(),
		kafka:    kafkaconn.Conn{Brokers: opts.Brokers, Dialer: opts.Dialer}.Client(),
		bulk:     make(chan struct{}, opts.BulkBatches),
		pushes:   apns.NewSlots(opts.MaxPushes),
		gos:      newGoPool(),
		fast:     semaphore.NewWeighted(int64(opts.MaxRecipients)),
		stopping: make(chan struct{}),
		killed:   make(chan struct{}),
	}
	p.noTracing = isNoopTracer(opts.Tracer)
	return p, nil
}

// Ready reports whether the consumer has joined its group (or fetched an event), so /readyz
// turns ready in a quiet system too.
func (p *Pipeline) Ready() bool {
	p.readyMu.Lock()
	defer p.readyMu.Unlock()
	return p.joined
}

func (p *Pipeline) newReader() *kafka.Reader {
	conn := kafkaconn.Conn{Brokers: p.opts.Brokers, Dialer: p.opts.Dialer}
	return conn.GroupReader(p.opts.Topic, p.opts.GroupID, p.opts.SessionTimeout, p.opts.QueueSize, func(detail string) {
		p.log.Warn("kafka", "detail", detail)
	})
}

// Run consumes until ctx is cancelled, then drains: it stops fetching, finishes what is in
// flight within ShutdownGrace, commits, and returns nil. Events still unfinished at the end of
// the grace period are not committed, so Kafka delivers them again.
func (p *Pipeline) Run(ctx context.Context) error {
	r := p.newReader()
	defer r.Close()
	defer p.dlq.Close()
	if tr, ok := p.kafka.Transport.(*kafka.Transport); ok {
		defer tr.CloseIdleConnections() // the offset reads' connections
	}

	// work lives until the drain ends; ctx only stops the fetch loop.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	go func() {
		select {
		case <-p.killed:
			stopFetch()
			cancelWork()
		case <-work.Done():
		}
	}()

	for _, c := range p.merged {
		c.start()
		defer c.stop() // after every event returned
	}
	p.sched = newScheduler(p.opts.MaxEvents, p.opts.MaxBytes, p.gos, func(j *job) { p.process(work, j) }, p.isStopping)
	commitDone := make(chan struct{})
	go func() { defer close(commitDone); p.commitLoop(work, r) }()

	fetchErr := p.fetchLoop(fetchCtx, r)
	close(p.stopping)
	p.log.Info("draining", "inFlight", p.offsets.inFlight(), "grace", p.opts.ShutdownGrace)
	p.drain()
	cancelWork()
	p.sched.wait() // events return promptly once work is cancelled
	<-commitDone
	if !p.isKilled() {
		p.commit(context.Background(), r, false) // final commit, on a fresh context
	}
	return fetchErr
}

// drain waits for the running events to finish, at most ShutdownGrace; queued ones are
// skipped.
func (p *Pipeline) drain() {
	drained := make(chan struct{})
	go func() { p.sched.wait(); close(drained) }()
	select {
	case <-drained:
	case <-p.killed:
	case <-time.After(p.opts.ShutdownGrace):
		p.log.Warn("grace period over: unfinished events stay uncommitted and will be redelivered",
			"inFlight", p.offsets.inFlight())
	}
}

// kill stops the pipeline as a crash would: no drain and no final commit. Tests use it to
// check what a killed worker leaves behind.
func (p *Pipeline) kill() { p.killOnce.Do(func() { close(p.killed) }) }

func (p *Pipeline) isKilled() bool {
	select {
	case <-p.killed:
		return true
	default:
		return false
	}
}

// fetchLoop reads events and admits them to the scheduler until ctx ends. It waits only
// while the in-flight budget is spent, never for one key.
func (p *Pipeline) fetchLoop(ctx context.Context, r *kafka.Reader) error {
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.Error("fetch", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		p.setJoined()
		j := &job{msg: m, ticket: p.offsets.track(m.Topic, m.Partition, m.Offset)}
		p.metrics.eventsConsumed.Add(1)
		p.metrics.fetched(m)
		if !p.sched.admit(ctx, j) {
			return nil // not admitted: it stays unfinished and uncommitted
		}
	}
}

func (p *Pipeline) setJoined() {
	p.readyMu.Lock()
	p.joined = true
	p.readyMu.Unlock()
}

// groupOffsets reads the group's committed offsets of the partitions of points (partition →
// offset, -1 when none).
func (p *Pipeline) groupOffsets(ctx context.Context, points []commitPoint) (map[int]int64, error) {
	parts := make([]int, len(points))
	for i, c := range points {
		parts[i] = c.partition
	}
	resp, err := p.kafka.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: p.opts.GroupID, Topics: map[string][]int{p.opts.Topic: parts}})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, len(parts))
	for _, po := range resp.Topics[p.opts.Topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.CommittedOffset
	}
	return out, nil
}

// recommitEvery is how often every commit point is offered again, moved or not: a point a
// former owner of the partition sent back (see commit) is restored within this time.
const recommitEvery = 5 * time.Second

// commitLoop commits finished offsets every CommitInterval until ctx ends.
func (p *Pipeline) commitLoop(ctx context.Context, r *kafka.Reader) {
	t := time.NewTicker(p.opts.CommitInterval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !p.Ready() && r.Stats().Rebalances > 0 { // a generation was joined
				p.setJoined()
			}
			all := time.Since(last) >= recommitEvery
			if all {
				last = time.Now()
			}
			p.commit(ctx, r, all)
		}
	}
}

// commit hands the partitions' commit points to Kafka (with all, every point, else those that
// moved), except those at or behind the group's committed offsets. A worker's tracker cannot
// tell that a rebalance gave one of its partitions to another member: it goes on finishing
// the events it had, and without that check would commit them over the new owner's further
// commits, sending the partition back to an offset the new owner does not commit again.
func (p *Pipeline) commit(ctx context.Context, r *kafka.Reader, all bool) {
	points := p.offsets.pending(all)
	if len(points) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	group, err := p.groupOffsets(ctx, points)
	if err != nil {
		p.log.Warn("read the group's committed offsets", "err", err)
		return
	}
	send, behind := ahead(points, group)
	p.offsets.markSent(behind) // nothing to do for them
	if points = send; len(points) == 0 {
		return
	}
	msgs := make([]kafka.Message, len(points))
	for i, c := range points {
		// kafka-go commits Offset+1 for a message.
		msgs[i] = kafka.Message{Topic: c.topic, Partition: c.partition, Offset: c.offset - 1}
	}
	if err := r.CommitMessages(ctx, msgs...); err != nil {
		p.log.Warn("commit offsets", "err", err)
		return
	}
	p.offsets.markSent(points)
}
