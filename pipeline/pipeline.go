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

	"offpush/apns"
	"offpush/presence"
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
	QueueSize      int           // events buffered between fetch loop and workers, default 1024
	EventWorkers   int           // events processed at once, default 64
	Senders        int           // concurrent APNs sends, default 1000
	BatchSize      int           // recipients per Redis round trip, default 500
	Expiry         time.Duration // push expiry window, default 24h
	MaxAttempts    int           // APNs attempts per push, default 5
	MaxElapsed     time.Duration // retry budget per push, default 30s
	InitialBackoff time.Duration // first retry delay, default 100ms
	ShutdownGrace  time.Duration // drain limit after the fetch loop stops, default 25s
	// Topics maps certificate id (busiId) to its bundle id, the apns-topic.
	Topics map[int]string

	Logger *slog.Logger
	Meter  metric.MeterProvider
	Tracer trace.TracerProvider // spans per event, lookup, claim and APNs send; nil = none
	Now    func() time.Time
}

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
	defS(&o.Topic, "im.messages")
	defS(&o.DLQTopic, "im.push.dlq")
	defS(&o.GroupID, "offpush")
	defD(&o.SessionTimeout, 10*time.Second)
	defD(&o.CommitInterval, time.Second)
	def(&o.QueueSize, 1024)
	def(&o.EventWorkers, 64)
	def(&o.Senders, 1000)
	def(&o.BatchSize, 500)
	defD(&o.Expiry, 24*time.Hour)
	def(&o.MaxAttempts, 5)
	defD(&o.MaxElapsed, 30*time.Second)
	defD(&o.InitialBackoff, 100*time.Millisecond)
	defD(&o.ShutdownGrace, 25*time.Second)
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
	store   *presence.Store
	apns    *apns.Pool
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer
	offsets *offsets
	dlq     *dlqWriter
	sends   chan *sendJob

	// stopping is closed when the fetch loop stops: retries give up early to let the drain end.
	stopping chan struct{}
	killed   chan struct{}
	killOnce sync.Once
	readyMu  sync.Mutex
	joined   bool
}

// New builds a pipeline from its dependencies; nothing connects until Run.
func New(opts Options, store *presence.Store, pool *apns.Pool) (*Pipeline, error) {
	opts.setDefaults()
	if len(opts.Brokers) == 0 {
		return nil, errors.New("pipeline: no Kafka brokers")
	}
	m, err := newMetrics(opts.Meter)
	if err != nil {
		return nil, fmt.Errorf("pipeline metrics: %w", err)
	}
	p := &Pipeline{
		opts: opts, store: store, apns: pool, log: opts.Logger, metrics: m,
		tracer:   opts.Tracer.Tracer("offpush/pipeline"),
		offsets:  newOffsets(),
		sends:    make(chan *sendJob),
		stopping: make(chan struct{}),
		killed:   make(chan struct{}),
	}
	p.dlq = newDLQWriter(opts)
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
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        p.opts.Brokers,
		GroupID:        p.opts.GroupID,
		Topic:          p.opts.Topic,
		Dialer:         p.opts.Dialer,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        250 * time.Millisecond,
		QueueCapacity:  p.opts.QueueSize,
		SessionTimeout: p.opts.SessionTimeout,
		// Heartbeats well inside the session so a busy worker is not evicted.
		HeartbeatInterval: p.opts.SessionTimeout / 5,
		RebalanceTimeout:  p.opts.SessionTimeout,
		JoinGroupBackoff:  time.Second,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		StartOffset:       kafka.FirstOffset,
		// Offsets are committed by the pipeline's own committer, synchronously.
		CommitInterval: 0,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			p.log.Warn("kafka", "msg", fmt.Sprintf(format, args...))
		}),
	})
}

// Run consumes until ctx is cancelled, then drains: it stops fetching, finishes what is in
// flight within ShutdownGrace, commits, and returns nil. Events still unfinished at the end of
// the grace period are not committed, so Kafka delivers them again.
func (p *Pipeline) Run(ctx context.Context) error {
	r := p.newReader()
	defer r.Close()
	defer p.dlq.close()

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

	var workers, senders sync.WaitGroup
	for range p.opts.Senders {
		senders.Go(func() { p.sendLoop(work) })
	}
	jobs := make([]chan *job, p.opts.EventWorkers)
	for i := range jobs {
		jobs[i] = make(chan *job, max(1, p.opts.QueueSize/len(jobs)))
		workers.Go(func() {
			for j := range jobs[i] {
				if p.isStopping() {
					continue // queued, not started: left uncommitted for the partition's next owner
				}
				p.process(work, j)
			}
		})
	}
	commitDone := make(chan struct{})
	go func() { defer close(commitDone); p.commitLoop(work, r) }()

	fetchErr := p.fetchLoop(fetchCtx, r, jobs)
	for _, ch := range jobs {
		close(ch)
	}
	close(p.stopping)
	p.log.Info("draining", "inFlight", p.offsets.inFlight(), "grace", p.opts.ShutdownGrace)
	p.drain(&workers)
	cancelWork()
	workers.Wait() // workers return promptly once work is cancelled
	<-commitDone
	if !p.isKilled() {
		p.commit(context.Background(), r) // final commit, on a fresh context
	}
	close(p.sends)
	senders.Wait()
	return fetchErr
}

// drain waits for the workers to finish their events, at most ShutdownGrace.
func (p *Pipeline) drain(workers *sync.WaitGroup) {
	drained := make(chan struct{})
	go func() { workers.Wait(); close(drained) }()
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

// fetchLoop reads events and hands them to the workers until ctx ends. Events with the same
// key (one conversation) go to the same worker, so a conversation's pushes leave in order.
func (p *Pipeline) fetchLoop(ctx context.Context, r *kafka.Reader, jobs []chan *job) error {
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
		p.metrics.eventsConsumed.Add(ctx, 1)
		p.metrics.fetched(m)
		select {
		case jobs[workerFor(m, len(jobs))] <- j:
		case <-ctx.Done():
			// Not handed over: it stays unfinished and uncommitted.
			return nil
		}
	}
}

// workerFor picks the worker of an event: by key (FNV-1a), or by partition when it has none.
func workerFor(m kafka.Message, n int) int {
	if len(m.Key) == 0 {
		return (m.Partition + int(m.Offset)) % n
	}
	h := uint32(2166136261)
	for _, c := range m.Key {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % uint32(n))
}

func (p *Pipeline) setJoined() {
	p.readyMu.Lock()
	p.joined = true
	p.readyMu.Unlock()
}

// commitLoop commits finished offsets every CommitInterval until ctx ends.
func (p *Pipeline) commitLoop(ctx context.Context, r *kafka.Reader) {
	t := time.NewTicker(p.opts.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !p.Ready() && r.Stats().Rebalances > 0 { // a generation was joined
				p.setJoined()
			}
			p.commit(ctx, r)
		}
	}
}

// commit hands the partitions' commit points to Kafka.
func (p *Pipeline) commit(ctx context.Context, r *kafka.Reader) {
	points := p.offsets.pending()
	if len(points) == 0 {
		return
	}
	msgs := make([]kafka.Message, len(points))
	for i, c := range points {
		// kafka-go commits Offset+1 for a message.
		msgs[i] = kafka.Message{Topic: c.topic, Partition: c.partition, Offset: c.offset - 1}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.CommitMessages(ctx, msgs...); err != nil {
		p.log.Warn("commit offsets", "err", err)
		return
	}
	p.offsets.markSent(points)
}
