package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/internal/testenv"
)

func TestStartRestartKill(t *testing.T) {
	ctx := context.Background()
	s := testenv.Start(t, "--maxmemory-policy", "allkeys-lru")
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
	a, b := testenv.Start(t), testenv.Start(t)
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
		testenv.Start(t)
		t.Error("Start returned without redis-server")
	})
	if !skipped {
		t.Fatal("Start did not skip")
	}
}

// TestCluster: a 3-master cluster with a replica each serves every slot, routes a key to the
// master MasterOf names, and after that master is killed its replica takes its slots with the
// key; the killed node comes back as a replica.
func TestCluster(t *testing.T) {
	ctx := context.Background()
	c := testenv.StartCluster(t, 3, 1)
	if len(c.Nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(c.Nodes))
	}
	masters, err := c.Masters()
	if err != nil || len(masters) != 3 {
		t.Fatalf("Masters = %v, %v; want 3", masters, err)
	}
	cc := c.Client(t)
	if err := cc.Set(ctx, "{u1}:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	m, err := c.MasterOf("{u1}:k")
	if err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: m.Addr})
	defer direct.Close()
	if v := direct.Get(ctx, "{u1}:k").Val(); v != "v" {
		t.Fatalf("MasterOf names %s, which has {u1}:k = %q", m.Addr, v)
	}
	// The replica has the write before the master dies.
	if n, err := direct.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v", n, err)
	}

	// A key of another master stays readable from the kill to the promotion: the cluster
	// does not require full coverage.
	other := ""
	for i := 2; other == ""; i++ {
		k := fmt.Sprintf("{u%d}:k", i)
		if o, err := c.MasterOf(k); err != nil {
			t.Fatal(err)
		} else if o != m {
			other = k
		}
	}
	if err := cc.Set(ctx, other, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	otherMaster, _ := c.MasterOf(other)
	od := redis.NewClient(&redis.Options{Addr: otherMaster.Addr, MaxRetries: -1})
	defer od.Close()
	healed := make(chan error, 1)

	m.Kill()
	go func() { healed <- c.WaitHealthy(20 * time.Second) }()
	reads, failed := 0, 0
	var firstErr error
	for done := false; !done; {
		select {
		case err := <-healed:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-time.After(20 * time.Millisecond):
			reads++
			if err := od.Get(ctx, other).Err(); err != nil {
				failed++
				firstErr = firstOf(firstErr, err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d reads of %s on a live master failed during the failover, first: %v", failed, reads, other, firstErr)
	}
	promoted, err := c.MasterOf("{u1}:k")
	if err != nil {
		t.Fatal(err)
	}
	if promoted == m {
		t.Fatalf("the killed node %s still serves the slot", m.Addr)
	}
	// A new client: one made before the kill keeps its slot map for a while (go-redis's
	// cluster client reloads it on redirects and at its reload interval).
	if v, err := c.Client(t).Get(ctx, "{u1}:k").Result(); v != "v" {
		t.Errorf("after failover {u1}:k = %q, %v; want v", v, err)
	}

	if err := m.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	again := redis.NewClient(&redis.Options{Addr: m.Addr})
	defer again.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(again.Info(ctx, "replication").Val(), "role:slave") {
		if time.Now().After(deadline) {
			t.Fatal("the restarted node did not rejoin as a replica")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNewClusterShared: a cluster made without a test is usable and Close kills its nodes.
func TestNewClusterShared(t *testing.T) {
	c, err := testenv.NewCluster(3, 0)
	if errors.Is(err, testenv.ErrNoRedis) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	ctx := context.Background()
	for i := range 20 { // keys over every master
		if err := cc.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n := cc.DBSize(ctx).Val(); n != 20 {
		t.Errorf("DBSIZE over the cluster = %d, want 20", n)
	}
	if err := c.FlushAll(); err != nil {
		t.Fatal(err)
	}
	if n := cc.DBSize(ctx).Val(); n != 0 {
		t.Errorf("DBSIZE after FlushAll = %d, want 0", n)
	}
	c.Close()
	for _, n := range c.Nodes {
		if n.Running() || testenv.Ping(n.Addr) == nil {
			t.Errorf("node %s still up after Close", n.Addr)
		}
	}
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// TestAppendOnlyServer: with AppendOnly a Kill loses nothing acknowledged and StartAgain
// brings the data back on the same address; Wipe makes the next start empty. Each run logs
// to LogDir/redis-N.*.
func TestAppendOnlyServer(t *testing.T) {
	testenv.LookPath(t, "redis-server", "a real Redis", "apt-get install -y redis-server")
	ctx := context.Background()
	logs := t.TempDir()
	s, err := testenv.NewServer(ctx, testenv.ServerOptions{Dir: t.TempDir(), LogDir: logs, AppendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	c := s.Client(t)
	if cfg := c.ConfigGet(ctx, "appendfsync").Val(); cfg["appendfsync"] != "always" {
		t.Fatalf("appendfsync = %q", cfg["appendfsync"])
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if s.Running() {
		t.Fatal("running after Kill")
	}
	if err := s.Wipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after Wipe: Get err = %v, want redis.Nil", err)
	}
	c.Set(ctx, "k", "v2", 0)
	s.Kill()
	if err := s.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); v != "v2" {
		t.Fatalf("after Kill and StartAgain: k = %q, %v; want v2", v, err)
	}
	if err := s.Wipe(); err == nil {
		t.Fatal("Wipe of a running server did not fail")
	}
	if p := s.Proc(); p.Name != "redis-3" || !strings.HasPrefix(p.StdoutPath, logs) || !strings.Contains(p.Logs(), "Ready to accept connections") {
		t.Fatalf("proc %s logs to %s: %q", p.Name, p.StdoutPath, p.Logs())
	}
	if d, err := s.CPU(); err != nil || d < 0 {
		t.Fatalf("CPU = %v, %v", d, err)
	}
}
