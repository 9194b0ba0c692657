package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/presence"
)

// run sets up the system, runs the worker's window, then the baseline, and reads latencies.
func run(ctx context.Context, cfg *config, stderr io.Writer) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	stderr = &syncWriter{w: stderr} // children, the worker's log and the progress lines share it
	w := cfg.workload()
	res := newResult(cfg, w)
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	e, err := startEnv(ctx, cfg, w.Run, stderr)
	if err != nil {
		return nil, err
	}
	defer e.close()
	logf("kafka %v, simulator %s; seeding %d users × %d devices", e.brokers, e.simURL, w.Users, w.Devices)
	if err := e.prepare(ctx, w, res); err != nil {
		return nil, err
	}
	logf("seeded in %.1fs; running the worker on %d events (%d push outcomes expected)", res.SeedS, w.Events, res.ExpectedOutcomes)
	win, err := e.runWorker(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	res.setWorker(win)
	n := cfg.baselinePushes
	if n == 0 {
		n = max(int(res.Pushes), minBaselinePushes)
	}
	logf("worker done in %.1fs; baseline: %d pushes from %d goroutines", res.WindowS, n, cfg.baselineConcurrency)
	base, err := e.runBaseline(ctx, w, n)
	if err != nil {
		return nil, err
	}
	res.setBaseline(base)
	e.stopSim() // flushes the deliveries file
	lat, err := readLatencies(e.deliveries, w, res.LatencyFromEvent)
	if err != nil {
		return nil, err
	}
	res.setLatency(lat)
	return res, nil
}

// prepare seeds Redis and publishes the events that go out before the worker starts: all of
// them, or only event 0 with --rate (it opens the window; the others follow at the rate).
func (e *env) prepare(ctx context.Context, w *workload, res *Result) error {
	start := time.Now()
	fg, err := w.seed(ctx, presenceStore(e.rdb), e.cfg.foregroundShare())
	if err != nil {
		return fmt.Errorf("seed redis: %w", err)
	}
	res.SeedS = time.Since(start).Seconds()
	res.ForegroundDevices = fg
	res.ExpectedOutcomes = w.outcomes(w.Events)
	pre := w.Events
	if e.cfg.rate > 0 {
		pre = 1
	}
	if err := e.produce(ctx, w, 0, pre); err != nil {
		return fmt.Errorf("publish events: %w", err)
	}
	return nil
}

func presenceStore(rdb *redis.Client) *presence.Store { return presence.New(rdb, presence.Options{}) }

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
