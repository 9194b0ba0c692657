package replay_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/apns"
	"offpush/apnssim"
	"offpush/certgen"
	"offpush/dlq"
	"offpush/embedkafka"
	"offpush/internal/testenv"
	"offpush/pipeline"
	"offpush/presence"
	"offpush/render"
	"offpush/replay"
)

// TestOutageDeadLetterReplayedOnce is the dead-letter round trip end to end: an APNs outage longer than the
// retry budget dead-letters a push; once APNs is back a replay delivers it exactly once, a
// second replay of the group has nothing to do, and even a replay by another group (a
// duplicate) does not push the device twice.
func TestOutageDeadLetterReplayedOnce(t *testing.T) {
	s := newSystem(t)
	const tok = "00000000000000000000000000000000000000000000000000000000000000b0"
	s.device("bob", tok)
	s.sim.InjectFault(503, "ServiceUnavailable", 100) // far beyond MaxAttempts
	s.start()
	s.publish(`{"id":"m-outage","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},` +
		`"recipients":["bob"],"elems":[{"type":"text","text":"are you there?"}]}`)
	recs := s.dlqRecords(1)
	if r := headers(recs[0]); r[dlq.HeaderReason] != "apns_retry_exhausted" {
		t.Fatalf("DLQ record headers %v", r)
	}
	s.eventually("the event committed", func() bool { return s.committed() == 1 })
	if n := len(s.sim.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries during the outage", n)
	}
	if r := s.explain("m-outage"); r.State != presence.PushDeadLetter || r.Attempts < 2 {
		t.Errorf("explain during the outage: %+v, want dead_letter after the retries", r)
	}

	s.sim.SetFault(apnssim.Fault{}) // APNs is back
	if sum := s.replay("offpush-replay"); sum != (replay.Summary{Read: 1, Replayed: 1}) {
		t.Fatalf("replay: %+v", sum)
	}
	s.waitDeliveries(1)
	s.eventually("the replayed event committed", func() bool { return s.committed() == 2 })
	got := s.sim.Deliveries()
	if len(got) != 1 || got[0].Token != tok || got[0].Headers.CollapseID != "m-outage" {
		t.Fatalf("deliveries %+v, want m-outage to bob's device once", got)
	}
	if id := render.APNsID("m-outage", tok); got[0].Headers.ID != id {
		t.Errorf("the replay went with apns-id %q, want %q", got[0].Headers.ID, id)
	}
	s.eventually("explain: sent after the replay", func() bool {
		r := s.explain("m-outage")
		return r.State == presence.PushSent && r.Attempts == 1
	})

	if sum := s.replay("offpush-replay"); sum != (replay.Summary{}) {
		t.Errorf("second replay of the group: %+v, want nothing", sum)
	}
	// Another group replays the record again: the pipeline's dedupe key stops the push.
	if sum := s.replay("another-group"); sum.Replayed != 1 {
		t.Errorf("replay by another group: %+v", sum)
	}
	s.eventually("the duplicate committed", func() bool { return s.committed() == 3 })
	if n := len(s.sim.Deliveries()); n != 1 {
		t.Errorf("%d deliveries after a duplicate replay, want still 1", n)
	}
	for i, m := range all(t, s.k, s.topic)[1:] {
		if h := headers(m); h[dlq.HeaderReplays] != "1" {
			t.Errorf("replay %d has headers %v, want offpush-replays 1", i+1, h)
		}
	}
	if n := len(all(t, s.k, s.dlq)); n != 1 {
		t.Errorf("%d DLQ records, want still 1: the replay must not fail again", n)
	}
}

// explain is the one record of bob's one device for message msg.
func (s *system) explain(msg string) presence.PushRecord {
	s.t.Helper()
	rs, err := s.store.Explain(context.Background(), "bob", msg)
	if err != nil || len(rs) != 1 {
		s.t.Fatalf("explain %s: %+v, %v", msg, rs, err)
	}
	return rs[0]
}

// system is a worker as offpush run wires it: Kafka, a real redis-server, the APNs simulator
// and one certificate (busiId 2382).
type system struct {
	t          *testing.T
	k          *embedkafka.Cluster
	topic, dlq string
	store      *presence.Store
	sim        *apnssim.Server
	pool       *apns.Pool
}

const workerGroup = "offpush"

func newSystem(t *testing.T) *system {
	t.Helper()
	s := &system{t: t, k: embedkafka.Start(t)}
	s.topic = s.k.Topic(t, "im.messages", 1)
	s.dlq = s.k.Topic(t, "im.push.dlq", 1)
	s.store = presence.New(testenv.Start(t).Client(t), presence.Options{})
	var err error
	if s.sim, err = apnssim.New(apnssim.Options{}); err != nil {
		t.Fatal(err)
	}
	s.sim.Start()
	t.Cleanup(func() { s.sim.Close() })
	leaf, key, err := certgen.PushCertificate(certgen.Spec{BundleID: "com.example.im", NotAfter: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	certs := []apns.Certificate{{ID: 2382, Topic: "com.example.im", Production: true, TLS: &tc}}
	if s.pool, err = apns.NewPool(certs, apns.Options{Host: s.sim.URL(), RootCAs: s.sim.CertPool(), Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pool.Close)
	return s
}

// start runs the pipeline until the end of the test.
func (s *system) start() {
	s.t.Helper()
	p, err := pipeline.New(pipeline.Options{
		Brokers: s.k.Brokers, Topic: s.topic, DLQTopic: s.dlq, GroupID: workerGroup,
		SessionTimeout: 6 * time.Second, CommitInterval: 50 * time.Millisecond,
		MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond,
		MaxElapsed: 2 * time.Second, ShutdownGrace: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, s.store, s.pool)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("pipeline Run: %v", err)
		}
	})
}

func (s *system) device(user, token string) {
	s.t.Helper()
	ctx := context.Background()
	if err := s.store.SetToken(ctx, user, token, 2382); err != nil {
		s.t.Fatal(err)
	}
	if err := s.store.Background(ctx, user, token, 0); err != nil {
		s.t.Fatal(err)
	}
}

func (s *system) publish(ev string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.k.Produce(ctx, s.topic, kafka.Message{Key: []byte("c2c:alice:bob"), Value: []byte(ev)}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *system) dlqRecords(n int) []kafka.Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := s.k.ReadAll(ctx, s.dlq, n)
	if err != nil {
		s.t.Fatalf("read %d DLQ records (have %d): %v", n, len(msgs), err)
	}
	return msgs
}

func (s *system) replay(group string) replay.Summary {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := replay.Run(ctx, replay.Options{
		Brokers: s.k.Brokers, DLQTopic: s.dlq, Topic: s.topic, GroupID: group, Idle: 10 * time.Second,
	})
	if err != nil {
		s.t.Fatalf("replay: %v", err)
	}
	return sum
}

func (s *system) waitDeliveries(n int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.sim.WaitDeliveries(ctx, n); err != nil {
		s.t.Fatalf("waiting for %d deliveries (have %d): %v", n, len(s.sim.Deliveries()), err)
	}
}

// committed is the worker group's committed offset on the events topic.
func (s *system) committed() int64 { return committed(s.t, s.k, workerGroup, s.topic, 1)[0] }

func (s *system) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
