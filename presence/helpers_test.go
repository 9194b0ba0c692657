package presence_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/internal/testenv"
	"offpush/presence"
)

// t0 is the fake clock's start: a round millisecond, as the schema stores milliseconds.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// clock is a fake time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cluster is the Redis Cluster of the tests' second run (see TestMain), nil in the first.
var cluster *testenv.Cluster

// TestMain runs the tests on single redis-servers, then again on a 3-master Redis Cluster,
// which rejects a script or transaction whose keys span slots (CROSSSLOT).
func TestMain(m *testing.M) {
	os.Exit(testenv.RunTwice(m, 3, func(c *testenv.Cluster) { cluster = c }))
}

// env is a Store on its own throwaway redis-server, or on the emptied shared cluster, with a
// raw client to inspect keys.
type env struct {
	store *presence.Store
	rdb   redis.UniversalClient
	clock *clock
	hook  *recorder
	// newClient makes another client of the same Redis, closed at the test's cleanup.
	newClient func() redis.UniversalClient
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{clock: &clock{t: t0}, hook: &recorder{}}
	if cluster == nil {
		srv := testenv.Start(t)
		e.newClient = func() redis.UniversalClient { return srv.Client(t) }
	} else {
		if err := cluster.FlushAll(); err != nil {
			t.Fatal(err)
		}
		e.newClient = func() redis.UniversalClient { return cluster.Client(t) }
	}
	e.rdb = e.newClient()
	e.rdb.AddHook(e.hook)
	e.store = presence.New(e.rdb, presence.Options{Now: e.clock.Now})
	return e
}

// ownServer skips t in the cluster run: it needs a redis-server of its own.
func ownServer(t testing.TB) {
	t.Helper()
	if cluster != nil {
		t.Skip("runs on a redis-server of its own, not on the shared cluster")
	}
}

// raw returns a user's hash as stored, bypassing Store.
func (e *env) raw(t *testing.T, key string) map[string]string {
	t.Helper()
	h, err := e.rdb.HGetAll(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// recorder is a go-redis hook counting round trips (single commands and pipelines) and
// recording the keys every command names. The handshake go-redis sends on a new connection
// (HELLO, CLIENT …) is not counted.
type recorder struct {
	calls, pipes atomic.Int64
	mu           sync.Mutex
	keys         []string
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			r.calls.Add(1)
			r.record(cmd)
		}
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || handshake(cmds[0]) {
			return next(ctx, cmds)
		}
		r.pipes.Add(1)
		for _, c := range cmds {
			r.record(c)
		}
		return next(ctx, cmds)
	}
}

func handshake(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// record notes the keys of cmd: EVAL/EVALSHA declare theirs, every other command the Store
// sends names one key first.
func (r *recorder) record(cmd redis.Cmder) {
	args := cmd.Args()
	var keys []string
	switch strings.ToLower(cmd.Name()) {
	case "eval", "evalsha":
		n, _ := strconv.Atoi(toString(args[2]))
		for _, k := range args[3 : 3+n] {
			keys = append(keys, toString(k))
		}
	case "multi", "exec", "script", "ping":
	default:
		if len(args) > 1 {
			keys = append(keys, toString(args[1]))
		}
	}
	r.mu.Lock()
	r.keys = append(r.keys, keys...)
	r.mu.Unlock()
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// reset forgets what was recorded so far.
func (r *recorder) reset() {
	r.calls.Store(0)
	r.pipes.Store(0)
	r.mu.Lock()
	r.keys = nil
	r.mu.Unlock()
}

func (r *recorder) takeKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys
	r.keys = nil
	return k
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// keys lists the keys matching pattern on every master.
func (e *env) keys(t testing.TB, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	cc, ok := e.rdb.(*redis.ClusterClient)
	if !ok {
		k, err := e.rdb.Keys(ctx, pattern).Result()
		must(t, err)
		return k
	}
	var mu sync.Mutex
	var all []string
	must(t, cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		k, err := node.Keys(ctx, pattern).Result()
		mu.Lock()
		all = append(all, k...)
		mu.Unlock()
		return err
	}))
	return all
}
