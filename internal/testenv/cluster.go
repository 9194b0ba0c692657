package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodeTimeout is the cluster-node-timeout of the clusters this package starts: a master that
// does not answer for this long is failed by the others and its replica takes over, about
// two to three node timeouts after the master died.
const NodeTimeout = time.Second

// RequireFullCoverage is the cluster-require-full-coverage of the clusters this package
// starts, as offpush's deployment documents it: "no", so that while a dead master's slots
// are uncovered (from its failure detection to its replica's promotion) the other masters
// keep serving their own slots instead of answering CLUSTERDOWN for every key.
const RequireFullCoverage = "no"

// clusterTimeout bounds the creation of a cluster and every wait for it to be healthy.
const clusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of redis-server processes on 127.0.0.1, without persistence.
type Cluster struct {
	// Nodes are every node, masters and replicas, in their start order; a node's role
	// changes with failovers (see Masters).
	Nodes []*Server

	dir    string // removed by Close when NewCluster made it
	ownDir bool
}

// StartCluster starts a cluster of masters masters with replicasPerMaster replicas each for t
// and waits until every node reports cluster_state:ok. It is killed at t's cleanup. Without
// redis-server or redis-cli on PATH the test is skipped, or fails when CI=true.
func StartCluster(t TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	lookPath(t, "redis-server")
	lookPath(t, "redis-cli")
	c, err := newCluster(t.TempDir(), false, masters, replicasPerMaster)
	if c != nil {
		for _, n := range c.Nodes {
			n.t = t
		}
		t.Cleanup(c.Close)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return c
}

// NewCluster is StartCluster for a cluster that outlives one test (a package's TestMain
// starts it once for all its tests): it returns ErrNoRedis without the binaries, and the
// caller must Close it.
func NewCluster(masters, replicasPerMaster int) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "testenv-redis-cluster-")
	if err != nil {
		return nil, err
	}
	c, err := newCluster(dir, true, masters, replicasPerMaster)
	if err != nil {
		if c != nil {
			c.Close()
		} else {
			_ = os.RemoveAll(dir)
		}
		return nil, err
	}
	return c, nil
}

// newCluster starts the nodes with their files under dir and creates the cluster. On error
// the returned cluster, if not nil, still has to be closed.
func newCluster(dir string, ownDir bool, masters, replicasPerMaster int) (*Cluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoRedis
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, ErrNoRedis
	}
	c := &Cluster{dir: dir, ownDir: ownDir}
	n := masters * (1 + replicasPerMaster)
	for i := range n {
		nodeDir := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return c, err
		}
		s, err := startServer(context.Background(), bin, ServerOptions{Dir: nodeDir, Args: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(nodeDir, "nodes.conf"),
			"--cluster-node-timeout", strconv.FormatInt(NodeTimeout.Milliseconds(), 10),
			"--cluster-require-full-coverage", RequireFullCoverage}})
		if s != nil {
			c.Nodes = append(c.Nodes, s)
		}
		if err != nil {
			return c, err
		}
	}
	// redis-cli makes the first masters nodes masters and spreads the others over them as
	// replicas.
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitHealthy(clusterTimeout); err != nil {
		return c, err
	}
	// Every replica has finished its first sync: a failover right away can promote it.
	return c, c.waitReplicas(masters * replicasPerMaster)
}

// Addrs are the addresses of every node, for a cluster client's seed list.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// Client returns a cluster client of every node, closed at t's cleanup.
func (c *Cluster) Client(t TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Close kills every node and removes the files of a cluster made by NewCluster.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Kill()
	}
	if c.ownDir {
		_ = os.RemoveAll(c.dir)
	}
}

// Node returns the node listening on addr, or nil.
func (c *Cluster) Node(addr string) *Server {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// slotRange is a range of slots and the address of its master, as a live node sees it.
type slotRange struct {
	start, end int
	master     string
}

// slots asks a running node for the cluster's slot map.
func (c *Cluster) slots(ctx context.Context) ([]slotRange, error) {
	var firstErr error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		out, err := slotMap(ctx, rdb)
		_ = rdb.Close()
		if err != nil {
			firstErr = firstOf(firstErr, err)
			continue
		}
		return out, nil
	}
	if firstErr == nil {
		firstErr = errors.New("no node is running")
	}
	return nil, firstErr
}

// slotMap reads the slot ranges and their masters from one node (CLUSTER SHARDS).
func slotMap(ctx context.Context, rdb *redis.Client) ([]slotRange, error) {
	shards, err := rdb.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []slotRange
	for _, sh := range shards {
		for _, n := range sh.Nodes {
			if n.Role != "master" || n.Health == "failed" {
				continue
			}
			addr := net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
			for _, r := range sh.Slots {
				out = append(out, slotRange{start: int(r.Start), end: int(r.End), master: addr})
			}
		}
	}
	return out, nil
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// Masters returns the nodes that serve slots now, as a running node sees the cluster.
func (c *Cluster) Masters() ([]*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ranges, err := c.slots(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Server
	for _, r := range ranges {
		if n := c.Node(r.master); n != nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// MasterOf returns the node that serves key's slot now, as a running node sees the cluster.
func (c *Cluster) MasterOf(key string) (*Server, error) {
	m, err := c.MastersOf(key)
	if err != nil {
		return nil, err
	}
	return m[0], nil
}

// MastersOf returns, for each key, the node that serves its slot now (CLUSTER KEYSLOT and
// CLUSTER SLOTS on one running node).
func (c *Cluster) MastersOf(keys ...string) ([]*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ranges, err := c.slots(ctx)
	if err != nil {
		return nil, err
	}
	var rdb *redis.Client
	for _, n := range c.Nodes {
		if n.Running() {
			rdb = redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
			break
		}
	}
	if rdb == nil {
		return nil, errors.New("no node is running")
	}
	defer rdb.Close()
	cmds := make([]*redis.IntCmd, len(keys))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.ClusterKeySlot(ctx, k)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]*Server, len(keys))
	for i, cmd := range cmds {
		slot := int(cmd.Val())
		for _, r := range ranges {
			if slot >= r.start && slot <= r.end {
				out[i] = c.Node(r.master)
			}
		}
		if out[i] == nil {
			return nil, fmt.Errorf("slot %d of %q is not served by a node of this cluster", slot, keys[i])
		}
	}
	return out, nil
}

// WaitHealthy waits until every running node reports cluster_state:ok and sees all 16384
// slots served by running nodes: after a master was killed, until its replica was promoted.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = c.healthy(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not healthy after %v: %w", timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Cluster) healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		info, err := rdb.ClusterInfo(ctx).Result()
		var ranges []slotRange
		if err == nil {
			ranges, err = slotMap(ctx, rdb)
		}
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("node %s: cluster_state is not ok", n.Addr)
		}
		served := 0
		for _, r := range ranges {
			if m := c.Node(r.master); m == nil || !m.Running() {
				return fmt.Errorf("node %s sees slots %d-%d on %s, which is down", n.Addr, r.start, r.end, r.master)
			}
			served += r.end - r.start + 1
		}
		if served != 16384 {
			return fmt.Errorf("node %s sees %d of 16384 slots served", n.Addr, served)
		}
	}
	return nil
}

// waitReplicas waits until n replicas report their link to the master up.
func (c *Cluster) waitReplicas(n int) error {
	deadline := time.Now().Add(clusterTimeout)
	for {
		up := 0
		for _, node := range c.Nodes {
			rdb := redis.NewClient(&redis.Options{Addr: node.Addr, MaxRetries: -1})
			info, err := rdb.Info(context.Background(), "replication").Result()
			_ = rdb.Close()
			if err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up") {
				up++
			}
		}
		if up >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d replicas in sync after %v", up, n, clusterTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FlushAll deletes every key and every loaded script on every master.
func (c *Cluster) FlushAll() error {
	masters, err := c.Masters()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range masters {
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr})
		err := rdb.FlushAll(ctx).Err()
		if err == nil {
			err = rdb.ScriptFlush(ctx).Err()
		}
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("flush %s: %w", m.Addr, err)
		}
	}
	return nil
}
