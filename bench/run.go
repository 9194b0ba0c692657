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

// run sets up the system, runs the worker's window (at 0 ms first with --compare-rtt), then
// the baseline at 0 ms, and reads latencies.
func run(ctx context.Context, cfg *config, stderr io.Writer) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	stderr = &syncWriter{w: stderr} // children, the worker's log and the progress lines share it
	w := cfg.workload()
	res := newResult(cfg, w)
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	e, err := startEnv(ctx, cfg, stderr)
	if err != nil {
		return nil, err
	}
	defer e.close()
	logf("kafka %v, simulator %s; seeding %d users × %d devices", e.brokers, e.simURL, w.Users, w.Devices)
	if err := e.seed(ctx, w, res); err != nil {
		return nil, err
	}
	logf("seeded in %.1fs", res.SeedS)
	if err := e.windows(ctx, w, res, logf); err != nil {
		return nil, err
	}
	if err := e.baseline(ctx, w, res, logf); err != nil {
		return nil, err
	}
	if cfg.profile == profileBigGroups {
		if err := e.runBigGroups(ctx, w, res, logf); err != nil {
			return nil, err
		}
	}
	e.stopSim() // flushes the deliveries file
	lat, err := readLatencies(e.deliveries, w, res.LatencyFromEvent)
	if err != nil {
		return nil, err
	}
	res.setLatency(lat)
	return res, nil
}

// seed registers the population in Redis.
func (e *env) seed(ctx context.Context, w *workload, res *Result) error {
	start := time.Now()
	fg, err := w.seed(ctx, presenceStore(e.rdb), e.cfg.foregroundShare())
	if err != nil {
		return fmt.Errorf("seed redis: %w", err)
	}
	res.SeedS = time.Since(start).Seconds()
	res.ForegroundDevices = fg
	return nil
}

// windows runs the worker's window at --apns-rtt, after one at 0 ms with --compare-rtt. The
// 0 ms window's run id differs, so its message ids, hence its dedupe records, do too; and
// Redis is seeded again after it (see reseed).
func (e *env) windows(ctx context.Context, w *workload, res *Result, logf func(string, ...any)) error {
	var zero window
	if e.cfg.compareRTT {
		wz := *w
		wz.Run += "z"
		logf("worker at 0 ms round trip: %s", windowText(&wz))
		var err error
		if zero, err = e.windowAt(ctx, &wz, 0, 0); err != nil {
			return fmt.Errorf("worker at 0 ms: %w", err)
		}
		logf("worker at 0 ms done in %.1fs", zero.end.at.Sub(zero.start.at).Seconds())
		if err := e.reseed(ctx, w); err != nil {
			return err
		}
	}
	logf("worker at %s round trip: %s", rttText(res.Params), windowText(w))
	win, err := e.windowAt(ctx, w, e.cfg.apnsRTT, e.cfg.apnsRTTJitter)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	res.setWorker(win, w)
	if e.cfg.compareRTT {
		res.setZeroRTT(zero)
	}
	return nil
}

// reseed gives the next window the Redis state of the first: the bench's own redis-server is
// flushed and seeded again, so that the dedupe records of the first window neither remain
// nor count in the next one's memory; a --redis server is seeded again (badges) and keeps
// them.
func (e *env) reseed(ctx context.Context, w *workload) error {
	if e.redis != nil {
		if err := e.rdb.FlushDB(ctx).Err(); err != nil {
			return fmt.Errorf("flush redis: %w", err)
		}
	}
	if _, err := w.seed(ctx, presenceStore(e.rdb), e.cfg.foregroundShare()); err != nil {
		return fmt.Errorf("seed redis again: %w", err)
	}
	return nil
}

// windowAt runs a worker window on w with the simulator answering after rtt + [0, jitter).
func (e *env) windowAt(ctx context.Context, w *workload, rtt, jitter time.Duration) (window, error) {
	if e.cfg.compareRTT {
		if err := e.setSimLatency(ctx, rtt, jitter); err != nil {
			return window{}, err
		}
	}
	return e.runWindow(ctx, w)
}

func windowText(w *workload) string {
	if w.HotMessages > 0 {
		return fmt.Sprintf("%d messages to %d members, one-to-one alongside", w.HotMessages, w.HotMembers)
	}
	return fmt.Sprintf("%d events (%d push outcomes expected)", w.Events, w.outcomes(w.Events))
}

// baseline runs the plain apns2 loop with the simulator at 0 ms.
func (e *env) baseline(ctx context.Context, w *workload, res *Result, logf func(string, ...any)) error {
	if e.cfg.apnsRTT+e.cfg.apnsRTTJitter > 0 {
		if err := e.setSimLatency(ctx, 0, 0); err != nil {
			return err
		}
	}
	n := e.cfg.baselinePushes
	if n == 0 {
		n = max(int(res.Pushes), minBaselinePushes)
	}
	logf("worker done in %.1fs; baseline: %d pushes from %d goroutines", res.WindowS, n, e.cfg.baselineConcurrency)
	base, err := e.runBaseline(ctx, w, n)
	if err != nil {
		return err
	}
	res.setBaseline(base)
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
