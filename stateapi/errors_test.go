package stateapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"offpush/presence"
	"offpush/stateapi"
)

// TestAuth: a request needs one of the configured bearer tokens (either, for rotation); any
// other answer is 401 with WWW-Authenticate, on unknown paths too, without the token in the
// answer or the log.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	e.register("bob", tokA)
	tests := []struct {
		name, auth string // auth: the Authorization header, "" = none
		code       int
		err        string
	}{
		// The primary token.
		{"primary", "Bearer " + apiToken, 200, ""},
		// The second token, configured during a rotation.
		{"rotated", "Bearer " + rotatedToken, 200, ""},
		// The scheme is case-insensitive (RFC 7235).
		{"lower-case scheme", "bearer " + apiToken, 200, ""},
		// No header.
		{"none", "", 401, "missing bearer token"},
		// A wrong token.
		{"wrong", "Bearer not-the-token", 401, "invalid bearer token"},
		// A prefix of a right token.
		{"prefix", "Bearer " + apiToken[:len(apiToken)-1], 401, "invalid bearer token"},
		// A right token with something appended.
		{"suffix", "Bearer " + apiToken + "x", 401, "invalid bearer token"},
		// The token in the wrong case.
		{"case", "Bearer " + strings.ToUpper(apiToken), 401, "invalid bearer token"},
		// Basic auth carrying the token.
		{"basic", "Basic " + apiToken, 401, "authorization must be a bearer token"},
		// The scheme without a token.
		{"empty bearer", "Bearer ", 401, "authorization must be a bearer token"},
		// The token without a scheme.
		{"bare token", apiToken, 401, "authorization must be a bearer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/v1/users/bob/devices", "/nowhere"} {
				req := e.request("GET", path, "")
				req.Header.Del("Authorization")
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				r := e.send(req)
				if tt.code == 200 {
					if path == "/nowhere" {
						r.must(t, http.StatusNotFound)
					} else {
						r.must(t, http.StatusOK)
					}
					continue
				}
				r.must(t, http.StatusUnauthorized)
				if r.errorText() != tt.err || r.header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("%s: error %q, WWW-Authenticate %q", path, r.errorText(), r.header.Get("WWW-Authenticate"))
				}
				if strings.Contains(r.body, "Secret") {
					t.Errorf("%s: answer shows the token: %s", path, r.body)
				}
			}
		})
	}
	if strings.Contains(e.logs.String(), "Secret") {
		t.Errorf("log shows a token:\n%s", e.logs)
	}
	if devs := e.devices("bob"); len(devs) != 1 {
		t.Errorf("devices %+v", devs)
	}
}

// TestUnauthorizedWritesNothing: a rejected token does not reach the Store.
func TestUnauthorizedWritesNothing(t *testing.T) {
	e := newEnv(t)
	req := e.request("PUT", "/v1/users/bob/devices/"+tokA, `{"busiId":2382}`)
	req.Header.Set("Authorization", "Bearer wrong")
	e.send(req).must(t, http.StatusUnauthorized)
	if devs := e.devices("bob"); len(devs) != 0 {
		t.Errorf("unauthorized setToken stored %+v", devs)
	}
}

// TestNew: New refuses a configuration it cannot serve safely.
func TestNew(t *testing.T) {
	store := presence.New(nil, presence.Options{})
	tests := []struct {
		name  string
		store *presence.Store
		opts  stateapi.Options
		err   string
	}{
		// No token would lock everyone out (or, worse, be read as "no auth").
		{"no tokens", store, stateapi.Options{Certificates: certificates}, "stateapi: at least one bearer token is required"},
		// An empty token.
		{"empty token", store, stateapi.Options{Tokens: []string{"a", ""}, Certificates: certificates}, "stateapi: empty bearer token"},
		// setToken cannot validate busiId without the certificates.
		{"no certificates", store, stateapi.Options{Tokens: []string{"a"}}, "stateapi: Options.Certificates is required"},
		// No store.
		{"no store", nil, stateapi.Options{Tokens: []string{"a"}, Certificates: certificates}, "stateapi: store is required"},
	}
	for _, tt := range tests {
		if _, err := stateapi.New(tt.store, tt.opts); err == nil || err.Error() != tt.err {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
		}
	}
	if _, err := stateapi.New(store, stateapi.Options{Tokens: []string{"a"}, Certificates: certificates}); err != nil {
		t.Errorf("minimal options: %v", err)
	}
}

// TestRouting: unknown paths are JSON 404s, known paths with another method JSON 405s with
// Allow, and paths the mux would redirect to their clean form 404s.
func TestRouting(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path string
		code               int
		err, allow         string
	}{
		// Not an API path.
		{"root", "GET", "/", 404, "not found", ""},
		// A version that does not exist.
		{"v2", "GET", "/v2/users/bob/devices", 404, "not found", ""},
		// A trailing slash.
		{"trailing slash", "GET", "/v1/users/bob/devices/", 404, "not found", ""},
		// A device has no GET.
		{"GET device", "GET", "/v1/users/bob/devices/" + tokA, 405, "method GET not allowed; allowed: DELETE, PUT", "DELETE, PUT"},
		// Background is POST only.
		{"PUT background", "PUT", "/v1/users/bob/devices/" + tokA + "/background", 405, "method PUT not allowed; allowed: POST", "POST"},
		// The device list is read-only.
		{"DELETE devices", "DELETE", "/v1/users/bob/devices", 405, "method DELETE not allowed; allowed: GET, HEAD", "GET, HEAD"},
		// PATCH is no method of the API.
		{"PATCH config", "PATCH", "/v1/users/bob/apns-config", 405, "method PATCH not allowed; allowed: GET, HEAD, PUT", "GET, HEAD, PUT"},
		// An empty user id: the mux would redirect // to /.
		{"empty user", "GET", "/v1/users//devices", 404, "not found", ""},
		// A dot segment that cleans to a real route.
		{"dot segment", "GET", "/v1/users/bob/x/../devices", 404, "not found", ""},
	}
	for _, tt := range tests {
		r := e.call(tt.method, tt.path, "")
		r.must(t, tt.code)
		if r.errorText() != tt.err || r.header.Get("Allow") != tt.allow || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: error %q Allow %q Content-Type %q", tt.name, r.errorText(), r.header.Get("Allow"), r.header.Get("Content-Type"))
		}
	}
}

// TestRedisDown: with Redis gone every route answers 503 "state store unavailable", never
// a 500 and never the cause (which goes to the log); bad input is still a 400.
func TestRedisDown(t *testing.T) {
	ownServer(t)
	e := newEnv(t)
	e.register("bob", tokA)
	e.redis.Stop()
	dev := "/v1/users/bob/devices/" + tokA
	for _, c := range []struct{ name, method, path, body string }{
		{"setToken", "PUT", dev, `{"busiId":2382}`},
		{"logout", "DELETE", dev, ""},
		{"doBackground", "POST", dev + "/background", `{"c2cUnread":1}`},
		{"doForeground", "POST", dev + "/foreground", ""},
		{"devices", "GET", "/v1/users/bob/devices", ""},
		{"setAPNS", "PUT", "/v1/users/bob/apns-config", `{"openPush":1}`},
		{"getAPNSConfig", "GET", "/v1/users/bob/apns-config", ""},
		{"setReceiveMessageOpt", "PUT", "/v1/users/bob/receive-opts/all", `{"opt":"notNotify"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each waits out go-redis's retries
			r := e.with(t).call(c.method, c.path, c.body)
			r.must(t, http.StatusServiceUnavailable)
			if r.body != `{"error":"state store unavailable"}`+"\n" {
				t.Errorf("body %s", r.body)
			}
		})
	}
}

// TestRedisDownLogs: the cause of a 503 is logged; bad input with Redis down is still a 400.
func TestRedisDownLogs(t *testing.T) {
	ownServer(t)
	e := newEnv(t)
	e.redis.Stop()
	e.call("GET", "/v1/users/bob/devices", "").must(t, http.StatusServiceUnavailable)
	if !strings.Contains(e.logs.String(), "connection refused") {
		t.Errorf("log lacks the cause:\n%s", e.logs)
	}
	e.call("PUT", "/v1/users/bob/devices/"+tokA, `{"busiId":1}`).must(t, http.StatusBadRequest)
}

// TestPanic: a panic is a logged 500 with a JSON body and no stack trace; the server goes on.
func TestPanic(t *testing.T) {
	e := newEnv(t, func(o *stateapi.Options) {
		o.Certificates = func(int) bool { panic("certificate lookup exploded") }
	})
	r := e.call("PUT", "/v1/users/bob/devices/"+tokA, `{"busiId":2382}`)
	r.must(t, http.StatusInternalServerError)
	if r.body != `{"error":"internal error"}`+"\n" {
		t.Errorf("body %s", r.body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "certificate lookup exploded") || !strings.Contains(logs, "goroutine") {
		t.Errorf("log lacks the panic and its stack:\n%s", logs)
	}
	e.call("GET", "/v1/users/bob/devices", "").must(t, http.StatusOK)
}

// TestMetrics: each request is counted under its route pattern (not the raw path) and status,
// and timed; requests no route serves count as "unmatched".
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.register("bob", tokA)
	e.register("carol", tokB)
	e.call("PUT", "/v1/users/bob/devices/xyz", `{"busiId":2382}`).must(t, http.StatusBadRequest)
	e.call("GET", "/nowhere", "").must(t, http.StatusNotFound)
	req := e.request("GET", "/v1/users/bob/devices", "")
	req.Header.Del("Authorization")
	e.send(req).must(t, http.StatusUnauthorized)

	const setToken = "PUT /v1/users/{userId}/devices/{deviceToken}"
	counts, durations := collect(t, e)
	want := map[string]int64{
		setToken + " 200":                    2,
		setToken + " 400":                    1,
		"unmatched 404":                      1,
		"GET /v1/users/{userId}/devices 401": 1,
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("offpush.api.requests{%s} = %d, want %d (all: %v)", k, counts[k], n, counts)
		}
		if durations[k] != uint64(n) {
			t.Errorf("offpush.api.request.duration{%s} count = %d, want %d", k, durations[k], n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("series %v, want %v", counts, want)
	}
}

// collect reads the request counter and the duration histogram's counts by "route code".
func collect(t *testing.T, e *env) (counts map[string]int64, durations map[string]uint64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	must(t, e.metrics.Collect(context.Background(), &rm))
	counts, durations = map[string]int64{}, map[string]uint64{}
	key := func(s attribute.Set) string {
		route, _ := s.Value("route")
		code, _ := s.Value("code")
		return route.AsString() + " " + code.String()
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name == "offpush.api.requests" {
					for _, p := range d.DataPoints {
						counts[key(p.Attributes)] += p.Value
					}
				}
			case metricdata.Histogram[float64]:
				if m.Name == "offpush.api.request.duration" && m.Unit == "s" {
					for _, p := range d.DataPoints {
						durations[key(p.Attributes)] += p.Count
					}
				}
			}
		}
	}
	return counts, durations
}

// TestNewServer: the server has the slow-client limits.
func TestNewServer(t *testing.T) {
	s := stateapi.NewServer("127.0.0.1:0", http.NotFoundHandler())
	if s.Addr != "127.0.0.1:0" || s.Handler == nil || s.ReadHeaderTimeout != 5*time.Second || s.ReadTimeout != 15*time.Second ||
		s.WriteTimeout != 15*time.Second || s.IdleTimeout != 2*time.Minute || s.MaxHeaderBytes != 16<<10 {
		t.Errorf("server %+v", s)
	}
}

// TestErrorsAreJSON: every error body is exactly one JSON object with an "error" string.
func TestErrorsAreJSON(t *testing.T) {
	e := newEnv(t)
	for _, r := range []response{
		e.call("GET", "/x", ""),
		e.call("PATCH", "/v1/users/bob/devices", ""),
		e.call("PUT", "/v1/users/bob/devices/"+tokA, `{"busiId":"<script>"}`),
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(r.body), &m); err != nil || len(m) != 1 || m["error"] == nil {
			t.Errorf("%d body %q is not {\"error\":…}", r.code, r.body)
		}
	}
}
