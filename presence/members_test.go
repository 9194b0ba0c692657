package presence_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"offpush/internal/testenv"
	"offpush/presence"
)

// allMembers pages through the current member list of group, count at a time.
func allMembers(t testing.TB, s *presence.Store, group string, count int) []string {
	t.Helper()
	var out []string
	version, after := "", ""
	for {
		p, err := s.MembersPage(context.Background(), group, version, after, count)
		must(t, err)
		if len(p.UserIDs) > count {
			t.Fatalf("page of %d members, asked for at most %d", len(p.UserIDs), count)
		}
		out = append(out, p.UserIDs...)
		if !p.More {
			return out
		}
		version, after = p.Version, p.UserIDs[len(p.UserIDs)-1]
	}
}

func userIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%06d", prefix, i)
	}
	return out
}

// TestGroupMembership covers join, leave, replace and paging, each case on a fresh Store.
func TestGroupMembership(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(s *presence.Store) error
		want []string
	}{
		// An unknown group has no members.
		{"unknown group", func(*presence.Store) error { return nil }, nil},
		// Joining twice counts once; members read in byte order.
		{"join twice", func(s *presence.Store) error {
			for _, u := range []string{"carol", "alice", "carol"} {
				if err := s.JoinGroup(ctx, "g1", u); err != nil {
					return err
				}
			}
			return nil
		}, []string{"alice", "carol"}},
		// Leaving a group one is not in is not an error; leaving the last member empties it.
		{"leave", func(s *presence.Store) error {
			must(t, s.JoinGroup(ctx, "g1", "alice"))
			must(t, s.LeaveGroup(ctx, "g1", "bob"))
			must(t, s.LeaveGroup(ctx, "g1", "alice"))
			return s.LeaveGroup(ctx, "g1", "alice")
		}, nil},
		// A replace drops the old list; joins after it go to the new one.
		{"replace then join", func(s *presence.Store) error {
			must(t, s.JoinGroup(ctx, "g1", "old"))
			if _, err := s.ReplaceMembers(ctx, "g1", []string{"b", "a", "b"}); err != nil {
				return err
			}
			return s.JoinGroup(ctx, "g1", "c")
		}, []string{"a", "b", "c"}},
		// An empty replace clears the group, and it can be joined again.
		{"replace with none", func(s *presence.Store) error {
			_, err := s.ReplaceMembers(ctx, "g1", []string{"a", "b"})
			must(t, err)
			_, err = s.ReplaceMembers(ctx, "g1", nil)
			must(t, err)
			return s.JoinGroup(ctx, "g1", "z")
		}, []string{"z"}},
		// Braces in group ids keep their groups apart (the tag is escaped).
		{"braces in group ids", func(s *presence.Store) error {
			must(t, s.JoinGroup(ctx, "g}1", "brace"))
			must(t, s.JoinGroup(ctx, "g%7D1", "percent"))
			must(t, s.JoinGroup(ctx, "{g1", "open"))
			return s.JoinGroup(ctx, "g1", "plain")
		}, []string{"plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			must(t, tc.run(e.store))
			for _, count := range []int{1, 2, 1000} {
				if got := allMembers(t, e.store, "g1", count); !slices.Equal(got, tc.want) {
					t.Errorf("members by %d = %q, want %q", count, got, tc.want)
				}
			}
		})
	}
}

// TestReplaceMembersCounts checks what ReplaceMembers reports and refuses.
func TestReplaceMembersCounts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	n, err := e.store.ReplaceMembers(ctx, "g", []string{"a", "b", "a", "c"})
	must(t, err)
	if n != 3 {
		t.Errorf("replace of 4 ids with a duplicate = %d members, want 3", n)
	}
	p, err := e.store.MembersPage(ctx, "g", "", "", 0)
	must(t, err)
	if p.Size != 3 || len(p.UserIDs) != 0 || p.More {
		t.Errorf("count-0 page = %+v, want size 3 and no ids", p)
	}
	if _, err := e.store.ReplaceMembers(ctx, "g", make([]string, presence.MaxGroupMembers+1)); err == nil {
		t.Error("replace with MaxGroupMembers+1 ids: no error")
	}
}

// TestReplaceIsAtomicForReaders starts paging one list, replaces it with another, and reads
// on with the version of the first page: the reader finishes the old list, never a mix; a
// reader starting afterwards reads only the new list. When the old list is gone (its grace
// expired), the reader carries on in the current list at its position.
func TestReplaceIsAtomicForReaders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old, repl := userIDs("a", 300), userIDs("b", 300)
	repl = append(repl, old[150:]...) // half of the old members stay
	_, err := e.store.ReplaceMembers(ctx, "g", old)
	must(t, err)
	first, err := e.store.MembersPage(ctx, "g", "", "", 100)
	must(t, err)
	_, err = e.store.ReplaceMembers(ctx, "g", repl)
	must(t, err)
	got := first.UserIDs
	version, after := first.Version, first.UserIDs[99]
	for {
		p, err := e.store.MembersPage(ctx, "g", version, after, 100)
		must(t, err)
		if p.Version != first.Version {
			t.Fatalf("page read version %s, want the pinned %s", p.Version, first.Version)
		}
		got = append(got, p.UserIDs...)
		if !p.More {
			break
		}
		after = p.UserIDs[len(p.UserIDs)-1]
	}
	if !slices.Equal(got, old) {
		t.Errorf("reader across a replace read %d members, want the %d old ones exactly", len(got), len(old))
	}
	want := slices.Sorted(slices.Values(repl))
	if got := allMembers(t, e.store, "g", 100); !slices.Equal(got, want) {
		t.Errorf("new reader read %d members, want the %d new ones", len(got), len(want))
	}

	// The old list expired: the pinned reader continues in the new list after its position.
	must(t, e.rdb.Del(ctx, "op:{g:g}:m:"+first.Version).Err())
	p, err := e.store.MembersPage(ctx, "g", first.Version, "a000199", 1000)
	must(t, err)
	rest := slices.DeleteFunc(slices.Clone(want), func(u string) bool { return u <= "a000199" })
	if p.Version == first.Version || !slices.Equal(p.UserIDs, rest) {
		t.Errorf("after the old list expired: version %s, %d members %q…, want the current version from a000200",
			p.Version, len(p.UserIDs), p.UserIDs[:min(3, len(p.UserIDs))])
	}
}

// TestPagingStableUnderChurn pages through 2000 members while others join and leave: every
// member present throughout is read exactly once.
func TestPagingStableUnderChurn(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	stay := userIDs("s", 2000)
	_, err := e.store.ReplaceMembers(ctx, "g", stay)
	must(t, err)
	churn := e.newClient()
	cs := presence.New(churn, presence.Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := fmt.Sprintf("s%06d-c", i%2000) // sorts between the stayers
			must(t, cs.JoinGroup(ctx, "g", u))
			must(t, cs.LeaveGroup(ctx, "g", fmt.Sprintf("s%06d-c", (i+1000)%2000)))
		}
	})
	got := allMembers(t, e.store, "g", 7)
	close(stop)
	wg.Wait()
	var stayers []string
	for _, u := range got {
		if !strings.HasSuffix(u, "-c") {
			stayers = append(stayers, u)
		}
	}
	if !slices.Equal(stayers, stay) {
		t.Errorf("read %d stayers, want each of the %d once", len(stayers), len(stay))
	}
}

// TestMemberCursor round-trips cursors and refuses what MemberCursor never makes.
func TestMemberCursor(t *testing.T) {
	c := presence.MemberCursor(presence.MemberPage{Version: "12", UserIDs: []string{"a", "b.c/ü"}, More: true})
	v, after, err := presence.ParseMemberCursor(c)
	if err != nil || v != "12" || after != "b.c/ü" {
		t.Errorf("ParseMemberCursor(%q) = %q, %q, %v", c, v, after, err)
	}
	if c := presence.MemberCursor(presence.MemberPage{Version: "1", UserIDs: []string{"a"}}); c != "" {
		t.Errorf("cursor of a last page = %q, want \"\"", c)
	}
	for _, bad := range []string{"x", ".", "1.", ".YQ", "01.YQ", "-1.YQ", "1.@@", "1.YQ.YQ", "99999999999999999999.YQ"} {
		if _, _, err := presence.ParseMemberCursor(bad); err == nil {
			t.Errorf("ParseMemberCursor(%q): no error", bad)
		}
	}
}

// TestGroupKeysShareOneSlot runs every membership operation on a one-node cluster (which
// rejects cross-slot scripts) and checks that the keys of a group, braces in its id or not,
// hash to one slot.
func TestGroupKeysShareOneSlot(t *testing.T) {
	ownServer(t)
	ctx := context.Background()
	cc, node := startCluster(t)
	rec := &recorder{}
	cc.AddHook(rec)
	s := presence.New(cc, presence.Options{})
	for _, g := range []string{"g1", "a}b", "{x}", "%7D"} {
		must(t, s.JoinGroup(ctx, g, "alice"))
		_, err := s.ReplaceMembers(ctx, g, userIDs("u", 6000))
		must(t, err)
		must(t, s.LeaveGroup(ctx, g, "u000001"))
		_, err = s.MembersPage(ctx, g, "", "", 10)
		must(t, err)
		slots := map[int64][]string{}
		iter := node.Scan(ctx, 0, "op:{g:*", 1000).Iterator()
		for iter.Next(ctx) {
			slots[node.ClusterKeySlot(ctx, iter.Val()).Val()] = append(slots[node.ClusterKeySlot(ctx, iter.Val()).Val()], iter.Val())
		}
		must(t, iter.Err())
		if len(slots) != 1 {
			t.Errorf("group %q: keys in %d slots: %v", g, len(slots), slots)
		}
		if got := allMembers(t, s, g, 1000); len(got) != 5999 {
			t.Errorf("group %q: %d members, want 5999", g, len(got))
		}
		must(t, node.FlushAll(ctx).Err())
	}
}

// TestMembershipMemory measures what a member costs in Redis: a 100000-member group, ids of
// 10 bytes (go test ./presence -run MembershipMemory -v prints it).
func TestMembershipMemory(t *testing.T) {
	ownServer(t)
	if testing.Short() {
		t.Skip("writes 100000 members")
	}
	ctx := context.Background()
	srv := testenv.Start(t)
	meter := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	t.Cleanup(func() { _ = meter.Close() })
	replace := func(group string, ids []string) {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		_, err := presence.New(rdb, presence.Options{}).ReplaceMembers(ctx, group, ids)
		must(t, err)
		must(t, rdb.Close())
	}
	replace("warm", userIDs("w", 200)) // scripts and buffers allocated once are not counted
	before := usedMemory(t, meter)
	replace("big", userIDs("user", 100000))
	after := usedMemory(t, meter)
	key := "op:{g:big}:m:1"
	usage := meter.MemoryUsage(ctx, key, 0).Val()
	enc := meter.ObjectEncoding(ctx, key).Val()
	t.Logf("100000 members of 10-byte ids: used_memory +%.1f B/member, MEMORY USAGE %.1f B/member, encoding %s",
		float64(after-before)/100000, float64(usage)/100000, enc)
	if enc != "skiplist" {
		t.Errorf("encoding %q, want skiplist", enc)
	}
	if per := float64(after-before) / 100000; per > 150 {
		t.Errorf("%.0f bytes per member, more than 150", per)
	}
}
