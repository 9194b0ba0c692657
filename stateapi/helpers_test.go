package stateapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"offpush/internal/testenv"
	"offpush/presence"
	"offpush/recipient"
	"offpush/stateapi"
)

const (
	apiToken     = "primary-Secret-0123"
	rotatedToken = "rotated-Secret-4567"

	tokA = "aaaa000000000000000000000000000000000000000000000000000000000001"
	tokB = "bbbb000000000000000000000000000000000000000000000000000000000002"
)

// certificates are the busiIds of the product specification's example.
func certificates(id int) bool { return id == 2382 || id == 2383 || id == 2516 }

// cluster is the Redis Cluster of the tests' second run (see TestMain), nil in the first.
var cluster *testenv.Cluster

// TestMain runs the tests on single redis-servers, then again on a 3-master Redis Cluster.
func TestMain(m *testing.M) {
	os.Exit(testenv.RunTwice(m, 3, func(c *testenv.Cluster) { cluster = c }))
}

// ownServer skips t in the cluster run: it needs a redis-server of its own.
func ownServer(t testing.TB) {
	t.Helper()
	if cluster != nil {
		t.Skip("runs on a redis-server of its own, not on the shared cluster")
	}
}

// env is the state API over HTTP on its own redis-server (or the emptied shared cluster),
// with the Store to read state back, the log and the metrics it wrote.
type env struct {
	t       testing.TB
	redis   *testenv.Server // nil on the cluster
	rdb     redis.UniversalClient
	store   *presence.Store
	handler http.Handler
	srv     *httptest.Server
	logs    *testenv.SyncBuffer
	metrics *sdkmetric.ManualReader
}

// newEnv starts Redis and the API; mod edits the Options first.
func newEnv(t testing.TB, mod ...func(*stateapi.Options)) *env {
	t.Helper()
	e := &env{t: t, logs: &testenv.SyncBuffer{}, metrics: sdkmetric.NewManualReader()}
	if cluster == nil {
		e.redis = testenv.Start(t)
		e.rdb = e.redis.Client(t)
	} else {
		if err := cluster.FlushAll(); err != nil {
			t.Fatal(err)
		}
		e.rdb = cluster.Client(t)
	}
	e.store = presence.New(e.rdb, presence.Options{})
	opts := stateapi.Options{
		Tokens:       []string{apiToken, rotatedToken},
		Certificates: certificates,
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Meter:        sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.metrics)),
	}
	for _, m := range mod {
		m(&opts)
	}
	h, err := stateapi.New(e.store, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// with returns a copy of e that reports to t (a subtest).
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// response is what a request got back.
type response struct {
	code   int
	header http.Header
	body   string
}

// errorText is the "error" member of an error body, or the body itself if it is not one.
func (r response) errorText() string {
	var eb struct{ Error string }
	if json.Unmarshal([]byte(r.body), &eb) != nil {
		return r.body
	}
	return eb.Error
}

// call sends method path with body (as application/json when not empty) and the primary
// bearer token.
func (e *env) call(method, path, body string) response {
	e.t.Helper()
	req := e.request(method, path, body)
	return e.send(req)
}

// request builds a request with the primary token, and Content-Type application/json when
// body is not empty.
func (e *env) request(method, path, body string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

// must fails the test unless r has status code; it returns r's body.
func (r response) must(t testing.TB, code int) string {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body %s", r.code, code, r.body)
	}
	return r.body
}

// decode unmarshals the body of r, which must have status code, into v.
func decode[T any](t testing.TB, r response, code int) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.must(t, code)), &v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return v
}

// devices reads the user's devices straight from the Store.
func (e *env) devices(user string) []recipient.Device {
	e.t.Helper()
	d, err := e.store.Devices(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// settings reads the user's settings straight from the Store.
func (e *env) settings(user string) recipient.Settings {
	e.t.Helper()
	s, err := e.store.GetSettings(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// register registers token for user through the API.
func (e *env) register(user, token string) {
	e.t.Helper()
	e.call("PUT", "/v1/users/"+user+"/devices/"+token, `{"busiId":2382}`).must(e.t, http.StatusOK)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
