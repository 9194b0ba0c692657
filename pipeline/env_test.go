package pipeline_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"offpush/apns"
	"offpush/apnssim"
	"offpush/certgen"
	"offpush/embedkafka"
	"offpush/internal/testenv"
	"offpush/pipeline"
	"offpush/presence"
)

// env is one test's whole system: Kafka (kfake or KAFKA_BROKERS), a real redis-server, the
// APNs simulator over HTTP/2 TLS, and the certificates of `offpush dev` (2382 cert auth, 2516
// token auth).
type env struct {
	t     *testing.T
	kafka *embedkafka.Cluster
	topic string
	dlq   string
	group string
	rdb   redis.UniversalClient
	store *presence.Store
	sim   *apnssim.Server
	pool  *apns.Pool
}

func newEnv(t *testing.T, partitions int) *env {
	t.Helper()
	e := &env{t: t, kafka: embedkafka.Start(t), group: "offpush-" + strings.ReplaceAll(t.Name(), "/", "-")}
	e.topic = e.kafka.Topic(t, "im.messages", partitions)
	e.dlq = e.kafka.Topic(t, "im.push.dlq", 1)
	if _, ok := clusterTests.Load(t); ok {
		c := sharedCluster(t)
		if err := c.FlushAll(); err != nil {
			t.Fatal(err)
		}
		e.rdb = c.Client(t)
	} else {
		e.rdb = testenv.Start(t).Client(t)
	}
	// A lease well above the tests' longest send (MaxElapsed 3s + Timeout 5s), short enough
	// that a crash test takes over a killed worker's claims quickly.
	e.store = presence.New(e.rdb, presence.Options{ClaimLease: 9 * time.Second})

	p8, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.sim, err = apnssim.New(apnssim.Options{Keys: map[string]*ecdsa.PublicKey{"KEY1": &p8.PublicKey}, TeamID: "TEAM1"})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.Start()
	t.Cleanup(func() { e.sim.Close() })

	leaf, key, err := certgen.PushCertificate(certgen.Spec{BundleID: "com.example.im", NotAfter: time.Now().Add(365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	certs := []apns.Certificate{
		{ID: 2382, Topic: "com.example.im", Production: true, TLS: &tc},
		{ID: 2516, Topic: "com.example.im.enterprise", AuthKey: p8, KeyID: "KEY1", TeamID: "TEAM1"},
	}
	e.pool, err = apns.NewPool(certs, apns.Options{Host: e.sim.URL(), RootCAs: e.sim.CertPool(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	return e
}

// clusterTests are the tests onEachRedis runs on the shared cluster.
var clusterTests sync.Map // *testing.T → struct{}

// shared is the Redis Cluster of 3 masters the cluster variants share, started by the first.
var shared struct {
	once sync.Once
	c    *testenv.Cluster
	err  error
}

// TestMain closes the shared cluster after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		shared.c.Close()
	}
	os.Exit(code)
}

// onEachRedis runs f as subtest "single", on a redis-server of its own, and as "cluster", on
// the shared Redis Cluster (emptied first), where a script or transaction whose keys span
// slots fails with CROSSSLOT.
func onEachRedis(t *testing.T, f func(t *testing.T)) {
	t.Run("single", f)
	t.Run("cluster", func(t *testing.T) {
		clusterTests.Store(t, struct{}{})
		defer clusterTests.Delete(t)
		f(t)
	})
}

// sharedCluster starts the shared cluster once; without redis-server or redis-cli the test
// is skipped, or fails when CI=true.
func sharedCluster(t *testing.T) *testenv.Cluster {
	t.Helper()
	shared.once.Do(func() { shared.c, shared.err = testenv.NewCluster(3, 0) })
	switch {
	case errors.Is(shared.err, testenv.ErrNoRedis) && os.Getenv("CI") != "true":
		t.Skip("SKIPPED: ", shared.err)
	case shared.err != nil:
		t.Fatal(shared.err)
	}
	return shared.c
}

// worker is one running pipeline of the test, with its own metrics reader.
type worker struct {
	p      *pipeline.Pipeline
	reader *sdkmetric.ManualReader
	cancel context.CancelFunc
	done   chan error
}

// opts are the test defaults: short timers so that the suite stays fast.
func (e *env) opts() pipeline.Options {
	return pipeline.Options{
		Brokers: e.kafka.Brokers, Topic: e.topic, DLQTopic: e.dlq, GroupID: e.group,
		SessionTimeout: 6 * time.Second, CommitInterval: 100 * time.Millisecond,
		BatchSize: 100, MaxAttempts: 4,
		InitialBackoff: 20 * time.Millisecond, MaxElapsed: 3 * time.Second, ShutdownGrace: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(tlogWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (e *env) start(o pipeline.Options) *worker {
	e.t.Helper()
	reader := sdkmetric.NewManualReader()
	o.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	p, err := pipeline.New(o, e.store, e.pool)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{p: p, reader: reader, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- p.Run(ctx) }()
	e.t.Cleanup(func() { w.stop(e.t) })
	return w
}

// stop asks the worker to drain and waits for Run to return.
func (w *worker) stop(t *testing.T) {
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		w.done <- nil // later stops return at once
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop within 30s")
	}
}

// pushes returns the offpush.pushes counter by "outcome/reason".
func (w *worker) pushes(t *testing.T) map[string]int64 {
	return w.counter(t, "offpush.pushes", func(a attrs) string { return a["outcome"] + "/" + a["reason"] })
}

type attrs map[string]string

func (w *worker) counter(t *testing.T, name string, key func(attrs) string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := w.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				a := attrs{}
				for _, kv := range dp.Attributes.ToSlice() {
					a[string(kv.Key)] = kv.Value.String()
				}
				out[key(a)] += dp.Value
			}
		}
	}
	return out
}

// device registers token for user and puts it in the background with unread as the badge.
func (e *env) device(user, token string, busiID int, unread int64) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.store.SetToken(ctx, user, token, busiID); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Background(ctx, user, token, unread); err != nil {
		e.t.Fatal(err)
	}
}

// publish produces events (JSON strings or values) keyed by conversation.
func (e *env) publish(events ...any) {
	e.t.Helper()
	msgs := make([]kafka.Message, len(events))
	for i, ev := range events {
		var b []byte
		switch v := ev.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			var err error
			if b, err = json.Marshal(v); err != nil {
				e.t.Fatal(err)
			}
		}
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint("k", i%7)), Value: b}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.kafka.Produce(ctx, e.topic, msgs...); err != nil {
		e.t.Fatal(err)
	}
}

// waitDeliveries waits until the simulator accepted n notifications.
func (e *env) waitDeliveries(n int) []apnssim.Delivery {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.sim.WaitDeliveries(ctx, n); err != nil {
		e.t.Fatalf("waiting for %d deliveries (have %d): %v", n, len(e.sim.Deliveries()), err)
	}
	return e.sim.Deliveries()
}

// dlqRecords reads n records of the DLQ topic.
func (e *env) dlqRecords(n int) []kafka.Message {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := e.kafka.ReadAll(ctx, e.dlq, n)
	if err != nil {
		e.t.Fatalf("read %d DLQ records (have %d): %v", n, len(msgs), err)
	}
	return msgs
}

// committed returns the group's committed offsets of the events topic, by partition.
func (e *env) committed() map[int]int64 {
	e.t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(e.kafka.Brokers...)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: e.group, Topics: map[string][]int{e.topic: {0, 1, 2, 3}}})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[e.topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// tlogWriter sends a worker's log lines to the test log.
type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or 30s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// payload is the part of an APNs payload the tests compare.
type payload struct {
	APS struct {
		Alert struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		} `json:"alert"`
		Badge    *int   `json:"badge"`
		Sound    string `json:"sound"`
		ThreadID string `json:"thread-id"`
	} `json:"aps"`
	Ext string `json:"ext"`
}

type deliveryT = apnssim.Delivery

func decodePayload(t *testing.T, d apnssim.Delivery) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", d.Payload, err)
	}
	return p
}

var tokenSeq struct {
	sync.Mutex
	n int
}

// token makes a distinct 64-hex-digit device token.
func token() string {
	tokenSeq.Lock()
	defer tokenSeq.Unlock()
	tokenSeq.n++
	return fmt.Sprintf("%064x", tokenSeq.n)
}
