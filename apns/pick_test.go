package apns

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestPick: Bulk requests keep off the first connection while another has a free stream;
// Fast requests take a connection with the fewest Bulk requests, the most free streams on a
// tie.
func TestPick(t *testing.T) {
	type c struct{ free, bulk int32 }
	for _, tc := range []struct {
		name  string
		conns []c
		lane  Lane
		want  int
	}{
		{"one connection, fast", []c{{0, 0}}, Fast, 0},
		{"one connection, bulk", []c{{3, 3}}, Bulk, 0},
		{"no bulk: fast takes the most free", []c{{2, 0}, {9, 0}, {5, 0}}, Fast, 1},
		{"fast takes the one without bulk", []c{{1, 0}, {9, 1}, {9, 5}}, Fast, 0},
		{"fast takes the fewest bulk", []c{{3, 4}, {2, 1}, {9, 5}}, Fast, 1},
		{"fast skips a full one", []c{{0, 0}, {2, 7}, {7, 8}}, Fast, 1},
		{"all full: fast takes the most free", []c{{0, 0}, {-1, 2}, {0, 3}}, Fast, 0},
		{"bulk leaves the first alone", []c{{10, 0}, {1, 9}, {0, 10}}, Bulk, 1},
		{"bulk takes the most free of the others", []c{{10, 0}, {3, 7}, {8, 2}}, Bulk, 2},
		{"bulk spills to the first when the others are full", []c{{4, 0}, {0, 10}, {0, 10}}, Bulk, 0},
		{"bulk stays off a full first", []c{{0, 0}, {0, 10}, {-1, 11}}, Bulk, 1},
	} {
		conns := make([]*conn, len(tc.conns))
		for i, st := range tc.conns {
			conns[i] = &conn{}
			conns[i].limit.Store(10)
			conns[i].active.Store(10 - st.free)
			conns[i].bulk.Store(st.bulk)
		}
		s := &sender{}
		s.conns.Store(&conns)
		if got := s.pick(tc.lane); got != conns[tc.want] {
			for i := range conns {
				if conns[i] == got {
					t.Errorf("%s: picked connection %d, want %d", tc.name, i, tc.want)
				}
			}
		}
	}
}

// TestFastLaneConnection: while a large group's pushes (Bulk) are in flight, a one-to-one
// push (Fast) goes on a connection that carries none of them.
func TestFastLaneConnection(t *testing.T) {
	const bulk = 8
	release := make(chan struct{})
	var mu sync.Mutex
	arrived := map[string]int{} // remote address → Bulk requests waiting on it
	var fastFrom string
	url, roots, tlsCert := streamServer(t, 10, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("apns-collapse-id") == "fast" {
			mu.Lock()
			fastFrom = r.RemoteAddr
			mu.Unlock()
		} else {
			mu.Lock()
			arrived[r.RemoteAddr]++
			wait := release
			mu.Unlock()
			<-wait
		}
		w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
	})
	for _, transport := range []string{TransportH2, TransportNetHTTP} {
		t.Run(transport, func(t *testing.T) {
			p, err := NewPool([]Certificate{{ID: certID, Topic: certTopic, TLS: &tlsCert}},
				Options{Host: url, RootCAs: roots, Transport: transport, Connections: 2, MaxConnections: 2, InFlight: 20})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			mu.Lock()
			clear(arrived)
			fastFrom = ""
			release = make(chan struct{})
			mu.Unlock()
			releaseAll := sync.OnceFunc(func() { mu.Lock(); close(release); mu.Unlock() })
			defer releaseAll() // a failed wait must not leave handlers blocked for srv.Close
			var wg sync.WaitGroup
			for range bulk {
				wg.Go(func() {
					if r := p.Send(context.Background(), certID, note(certTopic), Bulk); r.Class != Sent {
						t.Errorf("bulk push: %+v", r)
					}
				})
			}
			waitFor(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				n := 0
				for _, k := range arrived {
					n += k
				}
				return n == bulk
			})
			fast := note(certTopic)
			fast.CollapseID = "fast"
			if r := p.Send(context.Background(), certID, fast, Fast); r.Class != Sent {
				t.Errorf("fast push: %+v", r)
			}
			releaseAll()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(arrived) != 1 || arrived[fastFrom] != 0 {
				t.Errorf("bulk requests by connection %v, the fast one on %s: want the bulk ones on one connection, the fast one on the other", arrived, fastFrom)
			}
		})
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
