package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/config"
	"offpush/internal/testenv"
)

// TestClusterClientFollowsFailover: with one master of a 3-master cluster killed, the
// worker's client keeps serving the other masters' keys and, once the replica is promoted,
// the killed master's keys again within seconds (go-redis alone waits for its 60 s reload).
func TestClusterClientFollowsFailover(t *testing.T) {
	c := testenv.StartCluster(t, 3, 1)
	rdb, err := newRedis(config.Redis{Addrs: c.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("newRedis with %d addresses made a %T, want a cluster client", len(c.Addrs()), rdb)
	}
	ctx := context.Background()

	// One key per master, written to the replicas too.
	keys := map[*testenv.Server]string{}
	for i := 0; len(keys) < 3; i++ {
		k := fmt.Sprintf("{u%d}:u", i)
		m, err := c.MasterOf(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := keys[m]; !ok {
			keys[m] = k
			if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			direct := redis.NewClient(&redis.Options{Addr: m.Addr})
			n, err := direct.Wait(ctx, 1, 5*time.Second).Result()
			_ = direct.Close()
			if err != nil || n != 1 {
				t.Fatalf("WAIT 1 on %s = %d, %v", m.Addr, n, err)
			}
		}
	}
	var victim *testenv.Server
	for m := range keys {
		victim = m
		break
	}

	// Read every key every 50 ms, as the pipeline would, from the kill on.
	type result struct {
		at  time.Time
		key string
		err error
	}
	results := make(chan result, 1024)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, k := range keys {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				err := rdb.Get(cctx, k).Err()
				cancel()
				select {
				case results <- result{time.Now(), k, err}:
				default:
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	victim.Kill()
	killed := time.Now()
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	t.Logf("replica promoted %v after the kill", healed.Sub(killed).Round(time.Millisecond))

	// Keys of the killed master must be served again soon after the promotion.
	const bound = 5 * time.Second
	deadline := time.After(time.Until(healed) + bound)
	var resumed time.Time
wait:
	for {
		select {
		case r := <-results:
			if r.key == keys[victim] && r.err == nil && r.at.After(healed) {
				resumed = r.at
				break wait
			}
		case <-deadline:
			break wait
		}
	}
	close(stop)
	<-done
	if resumed.IsZero() {
		t.Fatalf("the killed master's key is still not served %v after the replica's promotion", bound)
	}
	t.Logf("the killed master's key served again %v after the promotion", resumed.Sub(healed).Round(time.Millisecond))
}

// TestTopologyError: errors without a Redis reply and cluster reconfiguration replies reload
// the slot map; ordinary replies and the caller's own cancellation do not.
func TestTopologyError(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{refused, true},
		{fmt.Errorf("wrapped: %w", refused), true},
		{timeout, true},
		{io.EOF, true},
		{redisReply("CLUSTERDOWN The cluster is down"), true},
		{redisReply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{redisReply("MASTERDOWN Link with MASTER is down"), true},
		{redis.Nil, false},
		{redisReply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{redisReply("NOSCRIPT No matching script"), false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}, true}, // DialTimeout
	} {
		if got := topologyError(tt.err); got != tt.want {
			t.Errorf("topologyError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// redisReply is an error reply of a server: go-redis's errors of this kind implement
// redis.Error.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestDialBreaker: after a dial to a node failed, its commands and pipelines fail at once,
// without dialling, until the breaker's time is over; then a dial is tried again, and once
// one succeeds commands go through.
func TestDialBreaker(t *testing.T) {
	srv := testenv.Start(t)
	srv.Kill() // nothing listens: dials are refused
	var dials atomic.Int64
	const open = 300 * time.Millisecond
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialerRetries: 1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(newDialBreaker(srv.Addr, open))
	ctx := context.Background()

	err := rdb.Ping(ctx).Err()
	if !errors.Is(err, syscall.ECONNREFUSED) || dials.Load() != 1 {
		t.Fatalf("first ping: %v after %d dials; want connection refused after 1", err, dials.Load())
	}
	start := time.Now()
	err = rdb.Ping(ctx).Err()
	_, perr := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); p.Get(ctx, "l"); return nil })
	var be *breakerError
	if !errors.As(err, &be) || !errors.As(perr, &be) || !errors.Is(err, syscall.ECONNREFUSED) || !topologyError(err) {
		t.Errorf("while open: ping %v, pipeline %v; want the breaker's error wrapping the refused dial", err, perr)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials while the breaker was open, want none after the first", n-1)
	}
	if took := time.Since(start); took > open/2 {
		t.Errorf("failing at once took %v", took)
	}

	// The server is back: after the open time a dial is tried and succeeds.
	if err := srv.StartAgain(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(start.Add(open)))
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping after the breaker's time, with the server back: %v", err)
	}
	if dials.Load() < 2 {
		t.Errorf("%d dials: want a new one once the breaker's time was over", dials.Load())
	}
}
