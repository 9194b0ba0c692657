package presence_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/internal/testenv"
	"offpush/presence"
	"offpush/recipient"
)

// startCluster starts a one-node Redis Cluster owning every slot. Redis in cluster mode
// rejects a script or transaction whose keys span slots (CROSSSLOT) even on one node, and it
// answers CLUSTER KEYSLOT.
func startCluster(t *testing.T) (*redis.ClusterClient, *redis.Client) {
	t.Helper()
	ctx := context.Background()
	srv := testenv.Start(t, "--cluster-enabled", "yes")
	node := srv.Client(t)
	must(t, node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(node.ClusterInfo(ctx).Val(), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("one-node cluster did not reach cluster_state:ok")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
	t.Cleanup(func() { _ = cc.Close() })
	return cc, node
}

// TestUserKeysShareOneSlot runs every Store operation against Redis Cluster (which rejects a
// multi-key script or transaction across slots) and checks that every key carries the hash
// tag of a user the operation is about and lies in that user's slot; only the token owner key
// (P:tok:T) lives elsewhere.
func TestUserKeysShareOneSlot(t *testing.T) {
	ownServer(t) // a one-node cluster; the cluster run covers every other test on three
	ctx := context.Background()
	cc, node := startCluster(t)
	rec := &recorder{}
	cc.AddHook(rec)
	s := presence.New(cc, presence.Options{})
	bob := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA, SentAt: time.Now()}
	bobZero := presence.Claim{UserID: "bob", MsgID: "m2", Token: tokA}

	ops := []struct {
		name  string
		users []string // whose keys the operation may touch
		run   func() error
	}{
		{"SetToken", []string{"alice"}, func() error { return s.SetToken(ctx, "alice", tokA, 2382) }},
		{"SetToken moving the token", []string{"bob", "alice"}, func() error { return s.SetToken(ctx, "bob", tokA, 2382) }},
		{"Foreground", []string{"bob"}, func() error { return s.Foreground(ctx, "bob", tokA) }},
		{"Background", []string{"bob"}, func() error { return s.Background(ctx, "bob", tokA, 1) }},
		{"SetSettings", []string{"bob"}, func() error { return s.SetSettings(ctx, "bob", recipient.Settings{OpenPush: 1}) }},
		{"SetReceiveOpt", []string{"bob"}, func() error { return s.SetReceiveOpt(ctx, "bob", "all", recipient.NotNotify) }},
		{"Claim", []string{"bob"}, func() error { _, err := s.Claim(ctx, []presence.Claim{bob}); return err }},
		{"Done", []string{"bob"}, func() error { return s.Done(ctx, []presence.Claim{bob}) }},
		{"Claim without sentAt", []string{"bob"}, func() error { _, err := s.Claim(ctx, []presence.Claim{bobZero}); return err }},
		{"Done without sentAt", []string{"bob"}, func() error { return s.Done(ctx, []presence.Claim{bobZero}) }},
		{"DedupeStates", []string{"bob"}, func() error { _, err := s.DedupeStates(ctx, []presence.Claim{bob, bobZero}); return err }},
		{"Release", []string{"bob"}, func() error { return s.Release(ctx, []presence.Claim{bob, bobZero}) }},
		{"Lookup", []string{"bob"}, func() error { _, err := s.Lookup(ctx, []string{"bob"}); return err }},
		{"GetSettings", []string{"bob"}, func() error { _, err := s.GetSettings(ctx, "bob"); return err }},
		{"RemoveDeadToken", []string{"bob"}, func() error { _, err := s.RemoveDeadToken(ctx, "bob", tokA, time.Time{}); return err }},
		{"Logout", []string{"alice"}, func() error { return s.Logout(ctx, "alice", tokB) }},
	}
	for _, op := range ops {
		rec.takeKeys()
		if err := op.run(); err != nil {
			t.Fatalf("%s in cluster mode: %v", op.name, err)
		}
		for _, k := range rec.takeKeys() {
			if strings.HasPrefix(k, "op:tok:") {
				continue
			}
			if !inUserSlot(ctx, node, k, op.users) {
				t.Errorf("%s: key %q is outside the slots of %v", op.name, k, op.users)
			}
		}
	}
}

// inUserSlot reports whether key carries the tag {u} of one of users and hashes to the slot
// of that user's hash.
func inUserSlot(ctx context.Context, node *redis.Client, key string, users []string) bool {
	for _, u := range users {
		if strings.HasPrefix(key, "op:{"+u+"}:") &&
			node.ClusterKeySlot(ctx, key).Val() == node.ClusterKeySlot(ctx, "op:{"+u+"}:u").Val() {
			return true
		}
	}
	return false
}
