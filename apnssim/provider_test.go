package apnssim

import (
	"context"
	"crypto/ecdsa"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProviderAnswers sends one request per status path of the provider API and checks the
// status, the reason and, where it matters, the headers and what was kept.
func TestProviderAnswers(t *testing.T) {
	key, otherKey := newKey(t), newKey(t)
	s := newSim(t, Options{
		Keys:          map[string]*ecdsa.PublicKey{testKeyID: &key.PublicKey},
		TeamID:        testTeamID,
		AllowedTopics: []string{testTopic, testTopic + ".voip", "com.example.im.enterprise"},
	})
	clients := map[string]*http.Client{
		"cert":   newClient(t, s.CertPool(), mustClientCert(t, testTopic)),
		"other":  newClient(t, s.CertPool(), mustClientCert(t, "com.other.app")),
		"noname": newClient(t, s.CertPool(), anonymousCert(t)),
		"none":   newClient(t, s.CertPool(), nil),
	}
	good := signJWT(t, key, testKeyID, testTeamID, time.Now())
	bearer := func(jwt string) http.Header {
		return http.Header{"authorization": {"bearer " + jwt}, "apns-topic": {"com.example.im.enterprise"}}
	}
	topic := http.Header{"apns-topic": {testTopic}}
	with := func(k, v string) http.Header { return http.Header{"apns-topic": {testTopic}, k: {v}} }
	voip := func(topic, expiration string) http.Header {
		h := http.Header{"apns-topic": {topic}, "apns-push-type": {"voip"}}
		if expiration != "" {
			h.Set("apns-expiration", expiration)
		}
		return h
	}
	device := "/3/device/" + testToken

	cases := []struct {
		name   string
		setup  func()
		client string
		method string
		path   string
		hdr    http.Header
		body   string
		status int
		reason string
	}{
		{"accepted with certificate auth", nil, "cert", "POST", device, topic, testBody, 200, ""},
		{"certificate's topic by default", nil, "cert", "POST", device, nil, testBody, 200, ""},
		{"certificate covers .voip", nil, "cert", "POST", device, voip(testTopic+".voip", "0"), testBody, 200, ""},
		{"VoIP push to the app's topic", nil, "cert", "POST", device, voip(testTopic, "0"), testBody, 400, "TopicDisallowed"},
		{"VoIP push that may be stored", nil, "cert", "POST", device, voip(testTopic+".voip", "1893456000"), testBody, 400, "BadExpirationDate"},
		{"VoIP push without apns-expiration", nil, "cert", "POST", device, voip(testTopic+".voip", ""), testBody, 400, "BadExpirationDate"},
		{"alert to the .voip topic", nil, "cert", "POST", device, http.Header{"apns-topic": {testTopic + ".voip"}, "apns-push-type": {"alert"}}, testBody, 400, "InvalidPushType"},
		{"upper-case hex token", nil, "cert", "POST", "/3/device/" + strings.ToUpper(testToken), topic, testBody, 200, ""},
		{"100-byte token", nil, "cert", "POST", "/3/device/" + strings.Repeat("ab", 100), topic, testBody, 200, ""},
		{"all options set", nil, "cert", "POST", device, http.Header{"apns-topic": {testTopic},
			"apns-push-type": {"alert"}, "apns-priority": {"5"}, "apns-expiration": {"0"},
			"apns-collapse-id": {strings.Repeat("c", 64)}, "apns-id": {"123e4567-e89b-12d3-a456-426655440000"}},
			testBody, 200, ""},
		{"accepted with token auth", nil, "none", "POST", device, bearer(good), testBody, 200, ""},

		{"GET is not allowed", nil, "cert", "GET", device, topic, "", 405, "MethodNotAllowed"},
		{"path outside /3/device/", nil, "cert", "POST", "/3/devices/" + testToken, topic, testBody, 404, "BadPath"},
		{"path with extra segment", nil, "cert", "POST", device + "/x", topic, testBody, 404, "BadPath"},

		{"no certificate, no token", nil, "none", "POST", device, topic, testBody, 403, "MissingProviderToken"},
		{"certificate naming no topic", nil, "noname", "POST", device, topic, testBody, 403, "BadCertificate"},
		{"certificate for another topic", nil, "other", "POST", device, topic, testBody, 400, "TopicDisallowed"},
		{"topic not allowed", nil, "none", "POST", device, http.Header{"authorization": {"bearer " + good},
			"apns-topic": {"com.other.app"}}, testBody, 400, "TopicDisallowed"},
		{"token auth without topic", nil, "none", "POST", device, http.Header{"authorization": {"bearer " + good}},
			testBody, 400, "MissingTopic"},
		{"JWT of an unknown key id", nil, "none", "POST", device,
			bearer(signJWT(t, key, "UNKNOWNKID", testTeamID, time.Now())), testBody, 403, "InvalidProviderToken"},
		{"JWT signed by another key", nil, "none", "POST", device,
			bearer(signJWT(t, otherKey, testKeyID, testTeamID, time.Now())), testBody, 403, "InvalidProviderToken"},
		{"JWT of another team", nil, "none", "POST", device,
			bearer(signJWT(t, key, testKeyID, "OTHERTEAM0", time.Now())), testBody, 403, "InvalidProviderToken"},
		{"JWT issued in the future", nil, "none", "POST", device,
			bearer(signJWT(t, key, testKeyID, testTeamID, time.Now().Add(time.Hour))), testBody, 403, "InvalidProviderToken"},
		{"JWT older than an hour", nil, "none", "POST", device,
			bearer(signJWT(t, key, testKeyID, testTeamID, time.Now().Add(-61*time.Minute))), testBody, 403, "ExpiredProviderToken"},
		{"not a JWT", nil, "none", "POST", device, bearer("not.a.jwt"), testBody, 403, "InvalidProviderToken"},
		{"not a bearer", nil, "none", "POST", device, http.Header{"authorization": {"Basic " + good},
			"apns-topic": {testTopic}}, testBody, 403, "InvalidProviderToken"},

		{"no device token", nil, "cert", "POST", "/3/device/", topic, testBody, 400, "MissingDeviceToken"},
		{"non-hex token", nil, "cert", "POST", "/3/device/" + strings.Repeat("zz", 32), topic, testBody, 400, "BadDeviceToken"},
		{"short token", nil, "cert", "POST", "/3/device/abcdef", topic, testBody, 400, "BadDeviceToken"},
		{"odd-length token", nil, "cert", "POST", device + "a", topic, testBody, 400, "BadDeviceToken"},
		{"repeated apns-topic", nil, "cert", "POST", device, http.Header{"apns-topic": {testTopic, testTopic}},
			testBody, 400, "DuplicateHeaders"},
		{"unknown push type", nil, "cert", "POST", device, with("apns-push-type", "shout"), testBody, 400, "InvalidPushType"},
		{"priority 7", nil, "cert", "POST", device, with("apns-priority", "7"), testBody, 400, "BadPriority"},
		{"expiration not a number", nil, "cert", "POST", device, with("apns-expiration", "soon"), testBody, 400, "BadExpirationDate"},
		{"collapse id of 65 bytes", nil, "cert", "POST", device, with("apns-collapse-id", strings.Repeat("c", 65)),
			testBody, 400, "BadCollapseId"},
		{"apns-id not a UUID", nil, "cert", "POST", device, with("apns-id", "nope"), testBody, 400, "BadMessageId"},

		{"empty payload", nil, "cert", "POST", device, topic, "", 400, "PayloadEmpty"},
		{"payload of 4097 bytes", nil, "cert", "POST", device, topic, bigPayload(4097), 413, "PayloadTooLarge"},
		{"payload of 4096 bytes", nil, "cert", "POST", device, topic, bigPayload(4096), 200, ""},
		{"payload not JSON", nil, "cert", "POST", device, topic, `{"aps":`, 400, ReasonBadPayload},
		{"payload without aps", nil, "cert", "POST", device, topic, `{"alert":"hi"}`, 400, ReasonBadPayload},
		{"aps not an object", nil, "cert", "POST", device, topic, `{"aps":"hi"}`, 400, ReasonBadPayload},

		{"unregistered token", func() { s.MarkUnregistered(testToken, time.UnixMilli(1700000000123)) },
			"cert", "POST", device, topic, testBody, 410, "Unregistered"},
		{"fault 500", func() { s.InjectFault(500, "InternalServerError", 1) },
			"cert", "POST", device, topic, testBody, 500, "InternalServerError"},
		{"fault 503", func() { s.InjectFault(503, "ServiceUnavailable", 1) },
			"cert", "POST", device, topic, testBody, 503, "ServiceUnavailable"},
		{"fault 429", func() { s.SetFault(Fault{Status: 429, Reason: "TooManyRequests", Count: 1, RetryAfter: 3}) },
			"cert", "POST", device, topic, testBody, 429, "TooManyRequests"},
		{"fault cleared by count 0", func() { s.InjectFault(503, "ServiceUnavailable", 5); s.InjectFault(503, "", 0) },
			"cert", "POST", device, topic, testBody, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.Reset()
			if c.setup != nil {
				c.setup()
			}
			a := do(t, clients[c.client], c.method, s.URL()+c.path, c.hdr, c.body)
			if a.status != c.status || a.reason != c.reason {
				t.Fatalf("got %d %q, want %d %q", a.status, a.reason, c.status, c.reason)
			}
			if a.header.Get("apns-id") == "" {
				t.Error("no apns-id header")
			}
			st := s.Stats()
			if c.status == 200 && (st.Accepted != 1 || len(s.Deliveries()) != 1) {
				t.Errorf("accepted %d, kept %d; want 1, 1", st.Accepted, len(s.Deliveries()))
			}
			if c.status != 200 && (st.Accepted != 0 || st.Rejected[c.reason] != 1) {
				t.Errorf("accepted %d, rejected %v; want 0 and one %s", st.Accepted, st.Rejected, c.reason)
			}
		})
	}
}

func bigPayload(n int) string {
	const head, tail = `{"aps":{"alert":"`, `"}}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// TestProviderDetails checks what the table cannot: 410 timestamp, Retry-After, apns-id echo,
// the kept headers.
func TestProviderDetails(t *testing.T) {
	s := newSim(t, Options{})
	c := newClient(t, s.CertPool(), mustClientCert(t, testTopic))
	device := s.URL() + "/3/device/" + testToken

	s.MarkUnregistered(testToken, time.UnixMilli(1700000000123))
	if a := do(t, c, "POST", device, nil, testBody); a.timestamp != 1700000000123 {
		t.Errorf("410 timestamp %d, want 1700000000123", a.timestamp)
	}
	s.Reset()
	s.SetFault(Fault{Status: 429, Reason: "TooManyRequests", Count: 1, RetryAfter: 3})
	if a := do(t, c, "POST", device, nil, testBody); a.header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q, want 3", a.header.Get("Retry-After"))
	}
	id := "123E4567-E89B-12D3-A456-426655440000"
	hdr := http.Header{"apns-id": {id}, "apns-priority": {"10"}, "apns-push-type": {"alert"},
		"apns-expiration": {"1700000000"}, "apns-collapse-id": {"m-1"}}
	if a := do(t, c, "POST", device, hdr, testBody); a.header.Get("apns-id") != id {
		t.Errorf("apns-id %q, want the request's %q", a.header.Get("apns-id"), id)
	}
	want := Headers{Topic: testTopic, PushType: "alert", Priority: "10", Expiration: "1700000000",
		CollapseID: "m-1", ID: id}
	d := s.Deliveries()
	if len(d) != 1 || d[0].Headers != want || d[0].Token != testToken || string(d[0].Payload) != testBody {
		t.Errorf("kept %+v, want token, payload and headers %+v", d, want)
	}
}

// TestGeneratedIDsDiffer checks that answers without a request apns-id get distinct UUIDs.
func TestGeneratedIDsDiffer(t *testing.T) {
	s := newSim(t, Options{})
	seen := map[string]bool{}
	for range 100 {
		id := s.newID()
		if !isUUID(id) || seen[id] {
			t.Fatalf("id %q: not a UUID or repeated", id)
		}
		seen[id] = true
	}
}

// TestTokenVerifierCache checks that a JWT is verified once and still expires an hour after iat.
func TestTokenVerifierCache(t *testing.T) {
	key := newKey(t)
	v := newTokenVerifier(map[string]*ecdsa.PublicKey{testKeyID: &key.PublicKey}, testTeamID)
	now := time.Now()
	jwt := signJWT(t, key, testKeyID, testTeamID, now)
	for range 10 {
		if r := v.check(jwt, now); r != "" {
			t.Fatalf("check = %q, want valid", r)
		}
	}
	if len(v.seen) != 1 {
		t.Errorf("%d cache entries, want 1", len(v.seen))
	}
	if r := v.check(jwt, now.Add(61*time.Minute)); r != "ExpiredProviderToken" {
		t.Errorf("an hour later: %q, want ExpiredProviderToken", r)
	}
}

// TestConnectionsAndConcurrency checks the connection count and the concurrency maximum:
// requests held by a long latency pile up until all are in progress, then are cancelled.
func TestConnectionsAndConcurrency(t *testing.T) {
	s := newSim(t, Options{})
	s.SetLatency(time.Minute)
	cert := mustClientCert(t, testTopic)
	const conns, perConn = 3, 4
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range conns {
		c := newClient(t, s.CertPool(), cert)
		for range perConn {
			req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+"/3/device/"+testToken, strings.NewReader(testBody))
			wg.Go(func() {
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
				}
			})
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().MaxConcurrent < conns*perConn && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	st := s.Stats()
	if st.Connections != conns || st.MaxConcurrent != conns*perConn {
		t.Errorf("connections %d, max concurrent %d; want %d, %d", st.Connections, st.MaxConcurrent, conns, conns*perConn)
	}
}

// TestLatency checks that injected latency delays answers.
func TestLatency(t *testing.T) {
	s := newSim(t, Options{})
	c := newClient(t, s.CertPool(), mustClientCert(t, testTopic))
	s.SetLatency(150 * time.Millisecond)
	start := time.Now()
	do(t, c, "POST", s.URL()+"/3/device/"+testToken, nil, testBody)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want ≥ 150ms", d)
	}
}

// TestJitter checks the answer delay with the random draw injected: latency plus the draw,
// drawn from [0, jitter), and no draw without jitter.
func TestJitter(t *testing.T) {
	var st state
	st.init(Options{Latency: 100 * time.Millisecond, LatencyJitter: 20 * time.Millisecond})
	var asked []int64
	draw := func(v func(n int64) int64) {
		st.randN = func(n int64) int64 { asked = append(asked, n); return v(n) }
	}
	draw(func(n int64) int64 { return n - 1 }) // the largest draw
	if d := st.answerDelay(); d != 120*time.Millisecond-1 {
		t.Errorf("largest draw: %v, want 120ms - 1ns", d)
	}
	draw(func(int64) int64 { return 0 })
	if d := st.answerDelay(); d != 100*time.Millisecond {
		t.Errorf("smallest draw: %v, want 100ms", d)
	}
	if want := []int64{int64(20 * time.Millisecond), int64(20 * time.Millisecond)}; !slices.Equal(asked, want) {
		t.Errorf("draws in [0, %v), want [0, %v)", asked, want)
	}
	st.SetJitter(0)
	asked = nil
	if d := st.answerDelay(); d != 100*time.Millisecond || asked != nil {
		t.Errorf("without jitter: %v after draws %v, want 100ms and no draw", d, asked)
	}
	st.SetLatency(0)
	st.SetJitter(5 * time.Millisecond)
	st.Reset()
	if d := st.answerDelay(); d != 0 {
		t.Errorf("after Reset: %v, want 0", d)
	}
}

// TestJitterSpread draws with the real source: every delay is in [latency, latency+jitter)
// and they are not all the same.
func TestJitterSpread(t *testing.T) {
	var st state
	st.init(Options{Latency: 100 * time.Millisecond, LatencyJitter: 20 * time.Millisecond})
	seen := map[time.Duration]bool{}
	for range 100 {
		d := st.answerDelay()
		if d < 100*time.Millisecond || d >= 120*time.Millisecond {
			t.Fatalf("delay %v outside [100ms, 120ms)", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Errorf("100 draws gave %d distinct delays", len(seen))
	}
}
