package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"offpush/app"
	"offpush/certgen"
	conf "offpush/config"
	"offpush/pipeline"
)

// Worker phase timing.
const (
	readyTimeout = 60 * time.Second       // group join and first fetch
	pollEvery    = 10 * time.Millisecond  // counters, near the end; bounds the window's end error
	pollMax      = 250 * time.Millisecond // counters, while the end is far: a collection costs worker CPU
	drainTimeout = 60 * time.Second
)

// window is what the worker did between its first event and its last push outcome, with the
// CPU every process used meanwhile.
type window struct {
	start, end snapshot
	counts     counts
	published  int // events, the one that opened the window included
	// redisBefore and redisAfter are Redis's memory for data (redisRetained) before the
	// worker started and after it stopped.
	redisBefore, redisAfter int64
}

// runWindow runs one worker window on w with its own topics and consumer group: it publishes
// what goes before the window, reads Redis's memory, runs the worker, and reads it again.
func (e *env) runWindow(ctx context.Context, w *workload) (window, error) {
	if err := e.openTopics(ctx, w.Run); err != nil {
		return window{}, err
	}
	pre := w.Events
	if e.cfg.paced() {
		pre = 1
	}
	if err := e.produce(ctx, w, 0, pre); err != nil {
		return window{}, fmt.Errorf("publish events: %w", err)
	}
	before, err := e.redisRetained(ctx)
	if err != nil {
		return window{}, err
	}
	win, err := e.runWorker(ctx, w)
	if err != nil {
		return win, err
	}
	win.redisBefore = before
	win.redisAfter, err = e.redisRetained(ctx)
	return win, err
}

// runWorker runs the worker in this process, wired as `offpush run` wires it (app.NewWorker
// on the default configuration with the bench's Kafka, Redis, simulator and certificate),
// until it has an outcome for every device of the workload, then stops it.
func (e *env) runWorker(ctx context.Context, w *workload) (window, error) {
	// The worker runs with the GC settings `offpush run` uses; the baseline after it with Go's
	// defaults, as a plain apns2 loop would.
	defer app.TuneGC()()
	// This window's peak is its own: not that of the seeding, an earlier window or run.
	debug.FreeOSMemory()
	resetPeakRSS()
	reader := sdkmetric.NewManualReader()
	cfg, err := e.workerConfig()
	if err != nil {
		return window{}, err
	}
	wk, err := app.NewWorker(ctx, cfg, app.Deps{Logger: e.workerLogger(), Meter: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), Redis: e.rdb})
	if err != nil {
		return window{}, err
	}
	defer wk.APNs.Close() // not wk.Close: the Redis client is the bench's
	p := wk.Pipeline
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	win, err := e.measure(ctx, p, reader, w)
	stop()
	select {
	case rerr := <-done:
		err = errors.Join(err, rerr)
	case <-time.After(drainTimeout):
		err = errors.Join(err, errors.New("worker did not stop"))
	}
	return win, err
}

// workerConfig is the worker's configuration: the defaults, the bench's topics, group and
// brokers, the simulator with its CA, and one certificate-auth certificate (a .p12 the
// simulator accepts) for busiID.
func (e *env) workerConfig() (conf.Config, error) {
	const password = "bench"
	p12, err := certgen.GenerateP12(e.dir, topic, password, true, time.Now().Add(certgen.Validity))
	if err != nil {
		return conf.Config{}, fmt.Errorf("client certificate: %w", err)
	}
	cfg := conf.Default()
	cfg.Kafka.Brokers, cfg.Kafka.Topic, cfg.Kafka.DLQTopic, cfg.Kafka.GroupID = e.brokers, e.topic, e.dlq, e.group
	cfg.APNs.Host, cfg.APNs.CAFile = e.simURL, e.simCAFile
	if e.cfg.connections > 0 {
		cfg.APNs.Connections = e.cfg.connections
	}
	if e.cfg.transport != "" {
		cfg.APNs.Transport = e.cfg.transport
	}
	cfg.APNs.Certificates = []conf.Certificate{{ID: busiID, BundleID: topic, Environment: conf.Production, P12File: p12, P12Password: password}}
	return cfg, nil
}

// workerLogger logs the worker's warnings (with --verbose, its info too) to stderr.
func (e *env) workerLogger() *slog.Logger {
	level := slog.LevelWarn
	if e.cfg.verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// measure opens the window at the first fetched event and closes it when the counters
// account for every device of every event published.
func (e *env) measure(ctx context.Context, p *pipeline.Pipeline, reader *sdkmetric.ManualReader, w *workload) (window, error) {
	if err := awaitReady(ctx, p); err != nil {
		return window{}, err
	}
	win := window{start: e.snapshot()}
	stopProfile, err := startProfile(e.cfg.cpuProfile)
	if err != nil {
		return win, err
	}
	if err := writeAllocs(e.cfg.memProfile, ".start"); err != nil {
		return win, err
	}
	win.counts, win.published, err = e.drive(ctx, reader, w)
	win.end = e.snapshot()
	win.end.rss = peakRSS(win.end.rss)
	stopProfile()
	if perr := writeAllocs(e.cfg.memProfile, ""); err == nil {
		err = perr
	}
	return win, err
}

// writeAllocs writes the allocation profile to path+suffix; "" path: none.
func writeAllocs(path, suffix string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}

// drive publishes the events that go out during the window, if any, and waits for their
// outcomes; it returns the counters and the number of events published in all.
func (e *env) drive(ctx context.Context, reader *sdkmetric.ManualReader, w *workload) (counts, int, error) {
	switch {
	case w.HotMessages > 0:
		return e.driveHotGroup(ctx, reader, w)
	case e.cfg.rate > 0:
		pr, err := e.startProducer(produceSpec{From: 1, To: w.Events, Rate: e.cfg.rate, Workload: *w})
		if err != nil {
			return counts{}, 1, err
		}
		c, err := waitOutcomes(ctx, reader, w.outcomes(w.Events), e.cfg.stall)
		_, perr := pr.wait(ctx)
		return c, w.Events, errors.Join(err, perr)
	}
	c, err := waitOutcomes(ctx, reader, w.outcomes(w.Events), e.cfg.stall)
	return c, w.Events, err
}

// driveHotGroup publishes the hot group's messages in one burst and one-to-one events at
// --c2c-rate after it, stops the one-to-one stream once the outcomes reach the count of the
// group's and the warm-up's (the group's pushes then still missing are at most the
// one-to-one ones already done), and waits for every outcome of what was published.
func (e *env) driveHotGroup(ctx context.Context, reader *sdkmetric.ManualReader, w *workload) (counts, int, error) {
	pr, err := e.startProducer(produceSpec{From: 1, To: w.Events, Burst: w.HotMessages,
		Rate: e.cfg.c2cRate, UntilStopped: true, Workload: *w})
	if err != nil {
		return counts{}, 1, err
	}
	_, err = waitOutcomes(ctx, reader, w.outcomes(w.firstC2C()), e.cfg.stall)
	n, perr := pr.stop()
	if err = errors.Join(err, perr); err != nil {
		return counts{}, 1 + n, err
	}
	c, err := waitOutcomes(ctx, reader, w.outcomes(1+n), e.cfg.stall)
	return c, 1 + n, err
}

// awaitReady waits until the pipeline fetched its first event.
func awaitReady(ctx context.Context, p *pipeline.Pipeline) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for !p.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("worker fetched no event: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// startProfile starts a CPU profile to path ("" = none) and returns what stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// waitOutcomes polls the pipeline's counters until they hold want push outcomes; it gives up
// when none is added for stall.
//
// Each poll collects every metric of the pipeline in this process, so it polls every pollMax
// while the rate so far puts the end far away, and every pollEvery when it is near.
func waitOutcomes(ctx context.Context, reader *sdkmetric.ManualReader, want int64, stall time.Duration) (counts, error) {
	last, lastChange := int64(-1), time.Now()
	start, first := time.Now(), int64(-1)
	for {
		c, err := readCounts(ctx, reader)
		if err != nil || c.total() >= want {
			return c, err
		}
		if first < 0 {
			first = c.total()
		}
		if c.total() != last {
			last, lastChange = c.total(), time.Now()
		} else if time.Since(lastChange) > stall {
			return c, fmt.Errorf("no progress for %v: %d of %d push outcomes %v after %d events",
				stall, c.total(), want, c.outcomes, c.events)
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(nextPoll(c.total()-first, want-c.total(), time.Since(start))):
		}
	}
}

// nextPoll is the wait before the next poll: half the time the left outcomes take at the rate
// of the done ones, within [pollEvery, pollMax].
func nextPoll(done, left int64, elapsed time.Duration) time.Duration {
	if done <= 0 {
		return pollEvery
	}
	eta := time.Duration(float64(elapsed) * float64(left) / float64(done))
	return min(max(eta/2, pollEvery), pollMax)
}

// counts are the pipeline's counters: offpush.events.consumed, offpush.recipients and
// offpush.pushes by outcome.
type counts struct {
	events, recipients int64
	outcomes           map[string]int64
}

func (c counts) total() int64 {
	var n int64
	for _, v := range c.outcomes {
		n += v
	}
	return n
}

func readCounts(ctx context.Context, reader *sdkmetric.ManualReader) (counts, error) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return counts{}, fmt.Errorf("read pipeline metrics: %w", err)
	}
	c := counts{outcomes: map[string]int64{}}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				switch m.Name {
				case "offpush.events.consumed":
					c.events += dp.Value
				case "offpush.recipients":
					c.recipients += dp.Value
				case "offpush.pushes":
					outcome, _ := dp.Attributes.Value("outcome")
					c.outcomes[outcome.AsString()] += dp.Value
				}
			}
		}
	}
	return c, nil
}
