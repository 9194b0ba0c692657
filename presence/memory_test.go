package presence_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/internal/testenv"
	"offpush/presence"
)

// memShape is a dedupe memory measurement: users recipients of msgs messages each, one
// device per user, every message sent within one dedupe bucket.
type memShape struct{ users, msgs int }

func (s memShape) String() string { return fmt.Sprintf("%dusers×%dmsgs", s.users, s.msgs) }

// memStats is what measureDedupe found.
type memStats struct {
	used     float64 // growth of used_memory less client buffers, per push
	usage    float64 // MEMORY USAGE of the new keys (exact), per push
	keys     int     // new keys
	encoding string  // OBJECT ENCODING of one new dedupe hash
	minTTL   time.Duration
}

// usedMemory is INFO memory's used_memory, read once the server has freed every connection
// but rdb's (a closed one is freed when the server notices).
func usedMemory(t testing.TB, rdb *redis.Client) int64 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		info, err := rdb.Info(context.Background(), "clients").Result()
		must(t, err)
		if strings.Contains(info, "connected_clients:1\r\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other clients still connected:\n%s", info)
		}
	}
	info, err := rdb.Info(context.Background(), "memory").Result()
	must(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			must(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

// measureDedupe claims and finishes every push of shape on a fresh redis-server (Redis'
// default configuration), in batches of 500 as the pipeline does, and measures what the
// dedupe records keep. Every device already has a badge, so the claims add nothing else.
// The same traffic to other users runs first: the server's one-time allocations (scripts,
// scripting buffers) are not counted. Seeding and claiming use clients closed before each
// reading: the buffers of their connections are not counted either.
func measureDedupe(t testing.TB, shape memShape) memStats {
	ctx := context.Background()
	srv := testenv.Start(t)
	meter := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	t.Cleanup(func() { _ = meter.Close() })
	work := func(f func(*presence.Store)) {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		f(presence.New(rdb, presence.Options{}))
		must(t, rdb.Close())
	}
	sentAt := time.Now().Add(-time.Minute)
	seed := func(users []string) {
		work(func(s *presence.Store) {
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < len(users); i += 8 {
						must(t, s.SetToken(ctx, users[i], memToken(users[i]), 2382))
						must(t, s.Background(ctx, users[i], memToken(users[i]), 1))
					}
				})
			}
			wg.Wait()
		})
	}
	push := func(users []string) {
		work(func(s *presence.Store) {
			var batch []presence.Claim
			flush := func() {
				r, err := s.Claim(ctx, batch)
				must(t, err)
				for i := range r {
					if r[i].State != presence.ClaimNew {
						t.Fatalf("claim %+v = %+v, want new", batch[i], r[i])
					}
				}
				must(t, s.Done(ctx, batch))
				batch = batch[:0]
			}
			for m := range shape.msgs {
				for _, u := range users {
					batch = append(batch, presence.Claim{UserID: u, MsgID: fmt.Sprintf("msg-%016d", m), Token: memToken(u), SentAt: sentAt})
					if len(batch) == 500 {
						flush()
					}
				}
			}
			if len(batch) > 0 {
				flush()
			}
		})
	}
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%07d", prefix, i)
		}
		return out
	}
	warm, users := names("w", min(shape.users, 100)), names("u", shape.users)
	seed(warm)
	seed(users)
	push(warm)
	before := usedMemory(t, meter)
	push(users)
	after := usedMemory(t, meter)

	n := float64(shape.users * shape.msgs)
	st := memStats{used: float64(after-before) / n, minTTL: time.Duration(1<<63 - 1)}
	var usage int64
	iter := meter.Scan(ctx, 0, "op:{u*}:dd:*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		st.keys++
		usage += meter.MemoryUsage(ctx, k, 0).Val()
		st.encoding = meter.ObjectEncoding(ctx, k).Val()
		st.minTTL = min(st.minTTL, meter.PTTL(ctx, k).Val())
	}
	must(t, iter.Err())
	st.usage = float64(usage) / n
	return st
}

// memToken is the 64-hex-digit device token of a user named by 8 characters.
func memToken(user string) string { return fmt.Sprintf("%048d%x", 0, user) }

// TestDedupeMemory measures the Redis memory a finished push keeps for at least DedupeTTL,
// for several shapes of traffic (go test ./presence -run DedupeMemory -v prints it). It
// asserts only the structure: one hash per user and bucket, listpack-encoded while small
// (hash-max-listpack-entries, 512 by default), expiring no sooner than DedupeTTL from now.
func TestDedupeMemory(t *testing.T) {
	ownServer(t)
	if testing.Short() {
		t.Skip("seeds 10000 users")
	}
	for _, tc := range []struct {
		shape    memShape
		encoding string
	}{
		{memShape{10, 50}, "listpack"},
		{memShape{1000, 10}, "listpack"},
		{memShape{10000, 1}, "listpack"},
		{memShape{1, 500}, "listpack"},
		{memShape{1, 1000}, "hashtable"}, // over hash-max-listpack-entries
	} {
		t.Run(tc.shape.String(), func(t *testing.T) {
			st := measureDedupe(t, tc.shape)
			t.Logf("%-16s used_memory +%4.0f B/push, MEMORY USAGE %4.0f B/push, %d keys %s", tc.shape, st.used, st.usage, st.keys, st.encoding)
			if st.keys != tc.shape.users {
				t.Errorf("%d new keys, want one dedupe hash per user: %d", st.keys, tc.shape.users)
			}
			if st.encoding != tc.encoding {
				t.Errorf("dedupe hash encoding %q, want %q", st.encoding, tc.encoding)
			}
			if ttl := 48*time.Hour - time.Minute; st.minTTL < ttl {
				t.Errorf("a dedupe hash expires in %v, want at least DedupeTTL (48h)", st.minTTL)
			}
		})
	}
}
