package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"offpush/apnssim"
)

func TestMain(m *testing.M) {
	apnssim.RunChild() // BenchmarkSend runs the simulator in a child process
	os.Exit(m.Run())
}

// TestPool runs the Pool tests with each HTTP/2 client.
func TestPool(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, string)
	}{
		{"SendCertificateAuth", testSendCertificateAuth},
		{"SendTokenAuth", testSendTokenAuth},
		{"SendUnknownCertificate", testSendUnknownCertificate},
		{"SendAnswers", testSendAnswers},
		{"RefreshAuth", testRefreshAuth},
		{"SharedToken", testSharedToken},
		{"Connections", testConnections},
		{"InFlightLimit", testInFlightLimit},
		{"SendContext", testSendContext},
		{"NewPoolErrors", testNewPoolErrors},
	}
	for _, transport := range []string{TransportNetHTTP, TransportH2} {
		t.Run(transport, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, transport) })
			}
		})
	}
}

const (
	certID     = 2382 // certificate auth, as `offpush dev`'s 2382
	tokenID    = 2516 // token auth
	certTopic  = "com.example.im"
	tokenTopic = "com.example.im.enterprise"
	keyID      = "KEY1234567"
	teamID     = "TEAM123456"
	device     = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	payload    = `{"aps":{"alert":{"title":"Alice","body":"hi"},"badge":1,"sound":"default"}}`
)

// fixture is a simulator and the credentials of one certificate-auth and one token-auth busiId.
type fixture struct {
	sim       *apnssim.Server
	certs     []Certificate
	key       *ecdsa.PrivateKey
	transport string // Options.Transport of its pools
}

func newFixture(t testing.TB, transport string) *fixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := apnssim.ClientCertificate(certTopic)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := apnssim.New(apnssim.Options{Keys: map[string]*ecdsa.PublicKey{keyID: &key.PublicKey}, TeamID: teamID})
	if err != nil {
		t.Fatal(err)
	}
	sim.Start()
	t.Cleanup(func() { _ = sim.Close() })
	return &fixture{sim: sim, key: key, transport: transport, certs: []Certificate{
		{ID: certID, Topic: certTopic, TLS: &tlsCert},
		{ID: tokenID, Topic: tokenTopic, AuthKey: key, KeyID: keyID, TeamID: teamID},
	}}
}

// pool is a Pool on the fixture's simulator; opts.Host, RootCAs and Transport are filled in.
func (f *fixture) pool(t testing.TB, opts Options) *Pool {
	t.Helper()
	opts.Host, opts.RootCAs, opts.Transport = f.sim.URL(), f.sim.CertPool(), f.transport
	p, err := NewPool(f.certs, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func note(topic string) *Request {
	return &Request{Token: device, Topic: topic, PushType: "alert", Priority: 10,
		CollapseID: "msg-1", Payload: []byte(payload)}
}

// TestSendCertificateAuth sends with a client certificate and checks what the simulator got.
func testSendCertificateAuth(t *testing.T, transport string) {
	f := newFixture(t, transport)
	p := f.pool(t, Options{})
	r := p.Send(context.Background(), certID, note(certTopic), Fast)
	if r.Class != Sent || r.Status != 200 || r.ApnsID == "" || r.Err != nil || r.Duration <= 0 {
		t.Fatalf("Send = %+v", r)
	}
	n := note(certTopic)
	n.Expiration = time.Unix(1800000000, 0)
	r2 := p.Send(context.Background(), certID, n, Fast)
	if r2.Class != Sent {
		t.Fatalf("Send with expiration = %+v", r2)
	}
	d := f.sim.Deliveries()
	want := apnssim.Headers{Topic: certTopic, PushType: "alert", Priority: "10", Expiration: "0",
		CollapseID: "msg-1", ID: r.ApnsID}
	if len(d) != 2 || d[0].Token != device || string(d[0].Payload) != payload || d[0].Headers != want {
		t.Fatalf("deliveries %+v, want payload as sent and headers like %+v", d, want)
	}
	if d[1].Headers.Expiration != "1800000000" || d[1].Headers.ID != r2.ApnsID {
		t.Errorf("second delivery headers %+v, want apns-expiration 1800000000 and apns-id %s", d[1].Headers, r2.ApnsID)
	}
}

// TestSendTokenAuth sends with a JWT that the simulator verifies, and with one it rejects.
func testSendTokenAuth(t *testing.T, transport string) {
	f := newFixture(t, transport)
	if r := f.pool(t, Options{}).Send(context.Background(), tokenID, note(tokenTopic), Fast); r.Class != Sent {
		t.Fatalf("Send = %+v", r)
	}
	f.certs[1].TeamID = "OTHERTEAM0"
	r := f.pool(t, Options{}).Send(context.Background(), tokenID, note(tokenTopic), Fast)
	if r.Class != Permanent || r.Status != 403 || r.Reason != "InvalidProviderToken" {
		t.Fatalf("Send with a wrong team id = %+v", r)
	}
}

// TestSendUnknownCertificate checks the answer for a busiId without a certificate.
func testSendUnknownCertificate(t *testing.T, transport string) {
	f := newFixture(t, transport)
	r := f.pool(t, Options{}).Send(context.Background(), 9999, note(certTopic), Fast)
	if r.Class != Permanent || r.Reason != ReasonUnknownCertificate || !r.UnknownCertificate() ||
		!errors.Is(r.Err, ErrUnknownCertificate) {
		t.Fatalf("Send = %+v", r)
	}
	if n := f.sim.Stats().Requests; n != 0 {
		t.Errorf("simulator got %d requests, want 0", n)
	}
}

// TestSendAnswers checks the Result of each kind of APNs answer, end to end.
func testSendAnswers(t *testing.T, transport string) {
	f := newFixture(t, transport)
	p := f.pool(t, Options{})
	gone := time.UnixMilli(1700000000123)
	cases := []struct {
		name       string
		setup      func(*apnssim.Server)
		token      string
		class      Class
		status     int
		reason     string
		retryAfter time.Duration
		timestamp  time.Time
	}{
		{"unregistered token", func(s *apnssim.Server) { s.MarkUnregistered(device, gone) }, device,
			TokenDead, 410, "Unregistered", 0, gone.Truncate(time.Second)}, // apns2 keeps whole seconds
		{"malformed token", nil, "abc", TokenDead, 400, "BadDeviceToken", 0, time.Time{}},
		{"429 without Retry-After", func(s *apnssim.Server) { s.InjectFault(429, "TooManyRequests", 1) }, device,
			Retry, 429, "TooManyRequests", time.Second, time.Time{}},
		{"429 with Retry-After", func(s *apnssim.Server) {
			s.SetFault(apnssim.Fault{Status: 429, Reason: "TooManyRequests", Count: 1, RetryAfter: 3})
		}, device, Retry, 429, "TooManyRequests", 3 * time.Second, time.Time{}},
		{"500", func(s *apnssim.Server) { s.InjectFault(500, "InternalServerError", 1) }, device,
			Retry, 500, "InternalServerError", 0, time.Time{}},
		{"503", func(s *apnssim.Server) { s.InjectFault(503, "ServiceUnavailable", 1) }, device,
			Retry, 503, "ServiceUnavailable", 0, time.Time{}},
		{"403 ExpiredProviderToken", func(s *apnssim.Server) { s.InjectFault(403, "ExpiredProviderToken", 1) }, device,
			RefreshAuth, 403, "ExpiredProviderToken", 0, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.sim.Reset()
			if c.setup != nil {
				c.setup(f.sim)
			}
			n := note(certTopic)
			n.Token = c.token
			r := p.Send(context.Background(), certID, n, Fast)
			if r.Class != c.class || r.Status != c.status || r.Reason != c.reason || r.RetryAfter != c.retryAfter ||
				!r.Timestamp.Equal(c.timestamp) || r.Err != nil {
				t.Errorf("Send = %+v, want %v %d %s retryAfter %v timestamp %v",
					r, c.class, c.status, c.reason, c.retryAfter, c.timestamp)
			}
		})
	}
}

// TestRefreshAuth checks that 403 ExpiredProviderToken regenerates the JWT once.
func testRefreshAuth(t *testing.T, transport string) {
	f := newFixture(t, transport)
	p := f.pool(t, Options{})
	tok := p.senders[tokenID].token
	before := tok.Bearer
	f.sim.InjectFault(403, "ExpiredProviderToken", 1)
	if r := p.Send(context.Background(), tokenID, note(tokenTopic), Fast); r.Class != RefreshAuth || r.Err != nil {
		t.Fatalf("Send = %+v, want RefreshAuth", r)
	}
	after := tok.Bearer
	if after == before {
		t.Fatal("the JWT was not regenerated")
	}
	if err := p.senders[tokenID].refresh(before); err != nil || tok.Bearer != after {
		t.Error("a second rejection of the same stale JWT regenerated it again")
	}
	if r := p.Send(context.Background(), tokenID, note(tokenTopic), Fast); r.Class != Sent {
		t.Fatalf("Send after refresh = %+v", r)
	}
}

// TestSharedToken checks that certificates of one .p8 key share its provider token.
func testSharedToken(t *testing.T, transport string) {
	f := newFixture(t, transport)
	second := f.certs[1]
	second.ID = 2517
	f.certs = append(f.certs, second)
	p := f.pool(t, Options{})
	if p.senders[tokenID].token != p.senders[2517].token || p.senders[certID].token != nil {
		t.Error("certificates of the same key do not share one token")
	}
}

// TestConnections checks that each certificate opens Options.Connections connections, even
// when its first sends come all at once (no connection per waiting request).
func testConnections(t *testing.T, transport string) {
	for _, conns := range []int{1, 3} {
		f := newFixture(t, transport)
		p := f.pool(t, Options{Connections: conns})
		f.sim.SetLatency(20 * time.Millisecond)
		var wg sync.WaitGroup
		for range 20 * conns {
			wg.Go(func() {
				if r := p.Send(context.Background(), certID, note(certTopic), Fast); r.Class != Sent {
					t.Errorf("Send = %+v", r)
				}
			})
		}
		wg.Wait()
		if got := f.sim.Stats().Connections; got != int64(conns) {
			t.Errorf("Connections %d: the simulator saw %d connections", conns, got)
		}
	}
}

// TestInFlightLimit checks that no more than Options.InFlight requests are in progress at once.
func testInFlightLimit(t *testing.T, transport string) {
	f := newFixture(t, transport)
	const limit = 5
	p := f.pool(t, Options{InFlight: limit})
	f.sim.SetLatency(300 * time.Millisecond)
	var wg sync.WaitGroup
	results := make([]Result, 4*limit)
	for i := range results {
		wg.Go(func() { results[i] = p.Send(context.Background(), certID, note(certTopic), Fast) })
	}
	wg.Wait()
	for _, r := range results {
		if r.Class != Sent {
			t.Fatalf("Send = %+v", r)
		}
	}
	if got := f.sim.Stats().MaxConcurrent; got != limit {
		t.Errorf("at most %d requests in progress at the simulator, want %d", got, limit)
	}
}

// TestSendContext checks that Send gives up with its ctx, while waiting for APNs and while
// waiting for an in-flight slot, and with Options.Timeout.
func testSendContext(t *testing.T, transport string) {
	f := newFixture(t, transport)
	f.sim.SetLatency(time.Minute)
	p := f.pool(t, Options{InFlight: 1})

	hold, release := context.WithCancel(context.Background())
	defer release()
	held := make(chan Result)
	go func() { held <- p.Send(hold, certID, note(certTopic), Fast) }() // occupies the only slot
	for f.sim.Stats().Requests == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := p.Send(ctx, certID, note(certTopic), Fast)
	if r.Class != Retry || !errors.Is(r.Err, context.DeadlineExceeded) || f.sim.Stats().Requests != 1 {
		t.Errorf("waiting for a slot: %+v, %d requests; want Retry with DeadlineExceeded, 1 request", r, f.sim.Stats().Requests)
	}
	release()
	if r := <-held; r.Class != Retry || !errors.Is(r.Err, context.Canceled) {
		t.Errorf("cancelled while waiting for APNs: %+v", r)
	}

	start := time.Now()
	r = f.pool(t, Options{Timeout: 100 * time.Millisecond}).Send(context.Background(), certID, note(certTopic), Fast)
	if r.Class != Retry || r.Err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("with Options.Timeout: %+v after %v", r, time.Since(start))
	}
}

// TestNewPoolErrors checks that bad certificates are refused with their id in the error.
func testNewPoolErrors(t *testing.T, transport string) {
	f := newFixture(t, transport)
	cert, tok := f.certs[0], f.certs[1]
	noTopic, both, noKeyID, otherKey := cert, cert, tok, tok
	noTopic.Topic = ""
	both.AuthKey, both.KeyID, both.TeamID = tok.AuthKey, keyID, teamID
	noKeyID.KeyID = ""
	otherKey.ID = 2517
	otherKey.AuthKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		certs []Certificate
		want  string
	}{
		{[]Certificate{cert, cert}, "certificate 2382: duplicate id"},                                             // same busiId twice
		{[]Certificate{noTopic}, "certificate 2382: empty topic"},                                                 // no bundle id
		{[]Certificate{{ID: 7, Topic: "t"}}, "certificate 7: neither"},                                            // no credential
		{[]Certificate{both}, "certificate 2382: both"},                                                           // two credentials
		{[]Certificate{noKeyID}, "certificate 2516: token auth needs a key id"},                                   // incomplete token auth
		{[]Certificate{tok, otherKey}, "certificate 2517: key id KEY1234567 of team TEAM123456: a different key"}, // one key id, two keys
	}
	for _, c := range cases {
		if _, err := NewPool(c.certs, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewPool: %v, want an error containing %q", err, c.want)
		}
	}
	if _, err := NewPool(nil, Options{Transport: "http3"}); err == nil || !strings.Contains(err.Error(), `transport "http3"`) {
		t.Errorf("NewPool with an unknown transport: %v", err)
	}
}

// TestPoolRegistry: the pool answers, by busiId, whether a certificate is configured, its
// topic and the kinds it sends (token auth both, a VoIP Services certificate VoIP only, any
// other TLS certificate alerts only).
func TestPoolRegistry(t *testing.T) {
	f := newFixture(t, TransportH2)
	voipCert := f.certs[0]
	voipCert.ID, voipCert.Topic, voipCert.VoIP = 2390, "com.example.im.voip", true
	f.certs = append(f.certs, voipCert)
	p := f.pool(t, Options{})
	for _, c := range []struct {
		id           int
		topic        string
		known        bool
		alerts, voip bool
	}{
		{certID, certTopic, true, true, false},
		{tokenID, tokenTopic, true, true, true},
		{2390, "com.example.im.voip", true, false, true},
		{9999, "", false, false, false},
	} {
		topic, ok := p.Topic(c.id)
		if topic != c.topic || ok != c.known || p.Known(c.id) != c.known || p.Sends(c.id, Alerts) != c.alerts || p.Sends(c.id, VoIP) != c.voip {
			t.Errorf("busiId %d: Topic %q %v, Known %v, Sends alerts %v voip %v; want %q %v, alerts %v voip %v",
				c.id, topic, ok, p.Known(c.id), p.Sends(c.id, Alerts), p.Sends(c.id, VoIP), c.topic, c.known, c.alerts, c.voip)
		}
	}
}
