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

	"offpush/apns"
	"offpush/pipeline"
	"offpush/pipeline/app"
)

// Worker phase timing.
const (
	readyTimeout = 60 * time.Second      // group join and first fetch
	pollEvery    = 10 * time.Millisecond // counters; bounds the window's end error
	drainTimeout = 60 * time.Second
)

// window is what the worker did between its first event and its last push outcome, with the
// CPU every process used meanwhile.
type window struct {
	start, end snapshot
	counts     counts
}

// runWorker runs the pipeline in this process until it has an outcome for every device of
// the workload, then stops it.
func (e *env) runWorker(ctx context.Context, w *workload) (window, error) {
	// The worker runs with the GC setting `offpush run` uses; the baseline after it with Go's
	// default, as a plain apns2 loop would.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(app.DefaultGCPercent))
	}
	reader := sdkmetric.NewManualReader()
	pool, err := apns.NewPool([]apns.Certificate{{ID: busiID, Topic: topic, TLS: &e.cert}},
		apns.Options{Host: e.simURL, RootCAs: e.simCA, Connections: e.cfg.connections, Transport: e.cfg.transport})
	if err != nil {
		return window{}, err
	}
	defer pool.Close()
	p, err := pipeline.New(e.pipelineOptions(reader), presenceStore(e.rdb), pool)
	if err != nil {
		return window{}, err
	}
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

func (e *env) pipelineOptions(reader sdkmetric.Reader) pipeline.Options {
	level := slog.LevelWarn
	if e.cfg.verbose {
		level = slog.LevelInfo
	}
	return pipeline.Options{
		Brokers: e.brokers, Topic: e.topic, DLQTopic: e.dlq, GroupID: e.group,
		Senders: e.cfg.senders, EventWorkers: e.cfg.eventWorkers,
		Topics: map[int]string{busiID: topic},
		Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})),
		Meter:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	}
}

// measure opens the window at the first fetched event and closes it when the counters
// account for every device; with --rate it starts the producer once the window is open.
func (e *env) measure(ctx context.Context, p *pipeline.Pipeline, reader *sdkmetric.ManualReader, w *workload) (window, error) {
	want := w.outcomes(w.Events)
	if err := awaitReady(ctx, p); err != nil {
		return window{}, err
	}
	win := window{start: e.snapshot()}
	stopProfile, err := startProfile(e.cfg.cpuProfile)
	if err != nil {
		return win, err
	}
	var producer *proc
	if e.cfg.rate > 0 {
		if producer, err = e.startProducer(w, 1, w.Events, e.cfg.rate); err != nil {
			stopProfile()
			return win, err
		}
	}
	win.counts, err = waitOutcomes(ctx, reader, want, e.cfg.stall)
	win.end = e.snapshot()
	stopProfile()
	if producer != nil {
		err = errors.Join(err, producer.wait(ctx))
	}
	return win, err
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
func waitOutcomes(ctx context.Context, reader *sdkmetric.ManualReader, want int64, stall time.Duration) (counts, error) {
	last, lastChange := int64(-1), time.Now()
	for {
		c, err := readCounts(ctx, reader)
		if err != nil || c.total() >= want {
			return c, err
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
		case <-time.After(pollEvery):
		}
	}
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
