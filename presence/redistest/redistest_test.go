package redistest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/presence/redistest"
)

func TestStartRestartKill(t *testing.T) {
	ctx := context.Background()
	s := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
	if s.Addr == "" || s.Addr == "127.0.0.1:6379" {
		t.Fatalf("Addr = %q, want a free port other than 6379", s.Addr)
	}
	c := s.Client(t)
	// The extra argument reached the server and persistence is off.
	cfg := c.ConfigGet(ctx, "*").Val()
	if cfg["maxmemory-policy"] != "allkeys-lru" || cfg["save"] != "" || cfg["appendonly"] != "no" {
		t.Fatalf("config = policy %q save %q appendonly %q", cfg["maxmemory-policy"], cfg["save"], cfg["appendonly"])
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.FlushAll(t)
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after FlushAll: Get err = %v, want redis.Nil", err)
	}

	c.Set(ctx, "k", "v", 0)
	s.Restart()
	// Same address, data lost (no persistence), the client reconnects by itself.
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after Restart: Get err = %v, want redis.Nil", err)
	}

	s.Kill()
	if conn, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("server still accepts connections after Kill")
	}
	s.Kill() // a second Kill is a no-op
}

func TestServersAreIndependent(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr == b.Addr {
		t.Fatalf("two servers on %s", a.Addr)
	}
}

// TestSkipsWithoutRedis: with no redis-server on PATH and CI unset, Start skips the test.
func TestSkipsWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "")
	var skipped bool
	t.Run("start", func(t *testing.T) {
		t.Cleanup(func() { skipped = t.Skipped() })
		redistest.Start(t)
		t.Error("Start returned without redis-server")
	})
	if !skipped {
		t.Fatal("Start did not skip")
	}
}
