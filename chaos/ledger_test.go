package chaos

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/dlq"
	"offpush/internal/testenv"
	"offpush/presence"
)

// ledgerWorkload is one event "m1" to user a (devices ta, tb) and b (device tc, unknown
// certificate), and one event "m2" to user a.
func ledgerWorkload() *Workload {
	w := &Workload{Pushes: map[Pair]string{}, DLQ: map[Pair]string{}, Skips: map[string]int{"foreground": 1}, users: map[string]*User{}}
	w.Users = []User{
		{ID: "a", Devices: []Device{{Token: tok("a"), BusiID: P12BusiID}, {Token: tok("b"), BusiID: P8BusiID}}},
		{ID: "b", Devices: []Device{{Token: tok("c"), BusiID: UnknownBusiID}}},
	}
	for i := range w.Users {
		w.users[w.Users[i].ID] = &w.Users[i]
	}
	w.Events = []Event{{ID: "m1", Recipients: []string{"a", "b"}}, {ID: "m2", Recipients: []string{"a"}}}
	w.Pushes[Pair{"m1", tok("a")}] = "a"
	w.Pushes[Pair{"m1", tok("b")}] = "a"
	w.Pushes[Pair{"m2", tok("a")}] = "a"
	w.DLQ[Pair{"m1", tok("c")}] = "unknown_certificate"
	return w
}

func tok(c string) string { return strings.Repeat(c, 64) }

func delivery(msg, token string, badge int64, at time.Time) Delivery {
	var d Delivery
	d.Token, d.Headers.CollapseID, d.Payload.APS.Badge, d.ReceivedAt = token, msg, &badge, at
	return d
}

func deadLetter(msg, token, reason string) kafka.Message {
	return kafka.Message{Value: []byte(`{"id":"` + msg + `"}`), Headers: []kafka.Header{
		{Key: dlq.HeaderReason, Value: []byte(reason)}, {Key: dlq.HeaderError, Value: []byte("503 (token " + token + ")")}}}
}

func TestDraw(t *testing.T) {
	t0 := time.Now()
	all := []Delivery{delivery("m1", tok("a"), 1, t0), delivery("m1", tok("b"), 1, t0), delivery("m2", tok("a"), 2, t0)}
	unknownCert := deadLetter("m1", tok("c"), "unknown_certificate")
	noDevice := Metrics{Pushes: map[string]float64{"skipped/foreground": 1, "skipped/no_device": 2}}
	for _, tc := range []struct {
		name      string
		in        ledgerInput
		delivered int
		dlq       int
		lost      int
		problems  []string // substrings, in order
	}{
		{
			// Everything delivered or dead-lettered as expected.
			name: "clean", in: ledgerInput{deliveries: all, deadLetter: []kafka.Message{unknownCert}},
			delivered: 3, dlq: 1,
		},
		{
			// A push neither delivered nor in the DLQ is lost.
			name: "lost", in: ledgerInput{deliveries: all[:2], deadLetter: []kafka.Message{unknownCert}},
			delivered: 2, dlq: 1, lost: 1, problems: []string{"lost: message m2"},
		},
		{
			// A repeat of a push in flight at a kill, with the same badge, is allowed.
			name: "repeat in flight",
			in: ledgerInput{deliveries: append(all, all[2]), deadLetter: []kafka.Message{unknownCert},
				inFlight: map[Pair]string{{"m2", tok("a")}: "kill"}},
			delivered: 3, dlq: 1,
		},
		{
			// A repeat of a push that was not in flight is a duplicate the design forbids.
			name: "repeat not in flight", in: ledgerInput{deliveries: append(all, all[2]), deadLetter: []kafka.Message{unknownCert}},
			delivered: 3, dlq: 1, problems: []string{"m2 delivered 2 times", "not in flight"},
		},
		{
			// A repeat with another badge was claimed afresh: dedupe failed.
			name: "repeat with a new badge",
			in: ledgerInput{deliveries: append(all, delivery("m2", tok("a"), 3, t0)), deadLetter: []kafka.Message{unknownCert},
				inFlight: map[Pair]string{{"m2", tok("a")}: "kill"}},
			delivered: 3, dlq: 1, problems: []string{"with badges [2 3]"},
		},
		{
			// A repeat inside a rebalance window is counted apart, and is a problem.
			name: "repeat at a rebalance",
			in: ledgerInput{deliveries: append(all, all[2]), deadLetter: []kafka.Message{unknownCert},
				rebalances: []time.Time{t0.Add(-time.Second)}},
			delivered: 3, dlq: 1, problems: []string{"during a rebalance"},
		},
		{
			// A push to a device the workload never expected to push.
			name: "unexpected", in: ledgerInput{deliveries: append(all, delivery("m2", tok("b"), 1, t0)), deadLetter: []kafka.Message{unknownCert}},
			delivered: 3, dlq: 1, problems: []string{"unexpected delivery: message m2"},
		},
		{
			// A push dead-lettered without ExpectRetryExhaustion, then replayed and delivered.
			name: "extra dead letter", in: ledgerInput{deliveries: all, deadLetter: []kafka.Message{unknownCert, deadLetter("m2", tok("a"), "apns_retry_exhausted")}},
			delivered: 3, dlq: 1, problems: []string{"1 pushes dead-lettered besides"},
		},
		{
			// After a wipe, m1 undelivered is explained by one more no_device skip.
			name: "wipe explained", in: ledgerInput{deliveries: all[2:], wiped: true, metrics: noDevice},
			delivered: 1,
		},
		{
			// After a wipe, without the no_device skips to show for it, m1 is lost.
			name: "wipe unexplained", in: ledgerInput{deliveries: all[2:], wiped: true},
			delivered: 1, lost: 3, problems: []string{"after the wipe", "lost"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.w = ledgerWorkload()
			l := draw(tc.name, tc.in)
			if l.Delivered != tc.delivered || l.DLQ != tc.dlq || l.Lost != tc.lost {
				t.Errorf("delivered %d, DLQ %d, lost %d; want %d, %d, %d", l.Delivered, l.DLQ, l.Lost, tc.delivered, tc.dlq, tc.lost)
			}
			if l.Expected != l.Delivered+l.Skipped+l.DLQ+l.Lost {
				t.Errorf("expected %d ≠ delivered %d + skipped %d + DLQ %d + lost %d", l.Expected, l.Delivered, l.Skipped, l.DLQ, l.Lost)
			}
			got := strings.Join(l.Problems, "\n")
			for _, want := range tc.problems {
				if !strings.Contains(got, want) {
					t.Errorf("problems %q do not mention %q", l.Problems, want)
				}
			}
			if len(tc.problems) == 0 && len(l.Problems) > 0 {
				t.Errorf("unexpected problems %q", l.Problems)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(`# HELP offpush_pushes_total Pushes.
offpush_pushes_total{otel_scope_name="offpush/pipeline",outcome="skipped",reason="no_device"} 12
offpush_pushes_total{outcome="sent",reason=""} 5
offpush_dlq_records_total{reason="invalid_event"} 2
`)
	if m.Pushes["skipped/no_device"] != 12 || m.Pushes["sent/"] != 5 || m.DLQ["invalid_event"] != 2 {
		t.Errorf("parsed %+v", m)
	}
}

// TestPendingPairs: of the workload's pushes, pendingPairs reports those claimed and not
// finished, asking the presence store with each event's sentAt (zero when it has none).
func TestPendingPairs(t *testing.T) {
	ctx := context.Background()
	w := ledgerWorkload()
	sentAt := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	w.Events[0].Value = []byte(`{"id":"m1","sentAt":"2026-11-25T10:00:00Z"}`)
	pairs, claims := pushClaims(w)
	if len(pairs) != 3 || len(claims) != 3 {
		t.Fatalf("%d pairs, %d claims, want the 3 pushes", len(pairs), len(claims))
	}
	for i, p := range pairs {
		c := claims[i]
		want := presence.Claim{UserID: "a", MsgID: p.Msg, Token: p.Token}
		if p.Msg == "m1" {
			want.SentAt = sentAt
		}
		if !c.SentAt.Equal(want.SentAt) || c.UserID != want.UserID || c.MsgID != want.MsgID || c.Token != want.Token {
			t.Errorf("claim of %+v = %+v, want %+v", p, c, want)
		}
	}

	s := presence.New(testenv.Start(t).Client(t), presence.Options{})
	for _, d := range w.Users[0].Devices {
		if err := s.SetToken(ctx, "a", d.Token, d.BusiID); err != nil {
			t.Fatal(err)
		}
	}
	m1a, m1b := Pair{"m1", tok("a")}, Pair{"m1", tok("b")}
	byPair := map[Pair]presence.Claim{}
	for i, p := range pairs {
		byPair[p] = claims[i]
	}
	if _, err := s.Claim(ctx, []presence.Claim{byPair[m1a], byPair[m1b]}); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, []presence.Claim{byPair[m1b]}); err != nil {
		t.Fatal(err)
	}
	got, err := pendingPairs(ctx, s, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != m1a {
		t.Errorf("pending = %+v, want only %+v (claimed, not done)", got, m1a)
	}
}

// TestGate: Down refuses new connections and resets open ones; Up accepts again on the
// same address.
func TestGate(t *testing.T) {
	g := &gate{}
	ln, err := g.listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = c.Write([]byte("x")); time.Sleep(time.Minute) }()
		}
	}()
	open, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	readByte(t, open)
	g.Down()
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the gate accepted a connection while down")
	}
	_ = open.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("open connection after Down: read err %v, want a reset", err)
	}
	if err := g.Up(); err != nil {
		t.Fatal(err)
	}
	again, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("after Up: %v", err)
	}
	defer again.Close()
	readByte(t, again)
}

func readByte(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read: %v", err)
	}
}
