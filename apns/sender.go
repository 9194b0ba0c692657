package apns

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"

	"offpush/apns/h2"
)

// Transport settings. Apple asks providers to keep connections open; a ping after 15s of
// silence finds dead ones.
const (
	pingAfter         = 15 * time.Second
	dialTimeout       = 20 * time.Second
	handshakeTimeout  = 10 * time.Second
	defaultRetryAfter = time.Second // Result.RetryAfter of a 429 without Retry-After
)

// sender is the state of one certificate: its connections (one apns2 client each), the
// in-flight slots and, for token auth, the provider token its connections share (with the
// other certificates of the same key).
//
// The slots bound the requests in flight to min(Options.InFlight, the sum of the
// connections' SETTINGS_MAX_CONCURRENT_STREAMS), re-read every adaptEvery requests, so that
// requests wait in the pool's lanes rather than in a transport's queue. When every slot is in
// use, requests wait, and the streams of all connections are fewer than InFlight, a
// connection is added, up to Options.MaxConnections.
type sender struct {
	cert     Certificate // what it sends with (Pool answers its topic and kinds)
	conns    atomic.Pointer[[]*conn]
	growMu   sync.Mutex // serializes adding connections
	newConn  func() *conn
	maxConns int
	inFlight int
	share    int // streams assumed for a connection whose limit is unknown: InFlight / Connections
	ticks    atomic.Uint32
	slots    *Slots
	token    *token.Token // nil for certificate auth
	timeout  time.Duration
	timed    bool // the transport bounds each request by timeout itself (apns/h2)
}

// conn is one HTTP/2 connection of a certificate.
type conn struct {
	client *apns2.Client
	tr     idleCloser
	active atomic.Int32 // requests in flight on it
	bulk   atomic.Int32 // Bulk requests of them
	limit  atomic.Int32 // its stream limit as last read
}

// adaptEvery is how many requests pass between two readings of the stream limits.
const adaptEvery = 64

// newSender builds the clients of c; tok is the provider token of its key (nil for
// certificate auth).
func newSender(c Certificate, tok *token.Token, o Options) *sender {
	s := &sender{cert: c, slots: NewSlots(o.InFlight), token: tok, timeout: o.Timeout,
		maxConns: o.MaxConnections, inFlight: o.InFlight, share: max(1, o.InFlight/o.Connections),
		timed: o.Transport == TransportH2}
	host := o.Host
	if host == "" {
		host = apns2.HostDevelopment
		if c.Production {
			host = apns2.HostProduction
		}
	}
	s.newConn = func() *conn {
		tr := newTransport(c, o)
		cn := &conn{tr: tr, client: &apns2.Client{
			Host:  host,
			Token: s.token,
			// No http.Client.Timeout: it costs a goroutine and a timer per request; push
			// bounds each request by ctx instead.
			HTTPClient: &http.Client{Transport: hintTransport{tr}},
		}}
		cn.limit.Store(int32(s.share))
		return cn
	}
	conns := make([]*conn, o.Connections)
	for i := range conns {
		conns[i] = s.newConn()
	}
	s.conns.Store(&conns)
	return s
}

// streamLimiter is a transport that knows its connection's stream limit (apns/h2; net/http's
// transport keeps it to itself and queues requests beyond it).
type streamLimiter interface{ MaxConcurrentStreams() int }

// pick is the connection a request of lane goes on. Bulk requests keep off the first
// connection: they take the one with the most free streams among the others, and the first
// only when every other one is full (Slots' BulkShare still bounds them, and a certificate
// that may grow adds a connection before they spill over). A Fast request takes, of the
// connections with a free stream, one with the fewest Bulk requests in flight, the most free
// streams on a tie: without Bulk traffic the connections share the Fast requests, with it
// the first one carries them. A large group's pushes come in waves (a batch at once, and at
// a long round trip its answers and the next batch together), and a server reads the
// requests of one connection in order: a one-to-one push on a connection without them is
// not read after a wave of a thousand. Under a 20,000-member group's burst at a 100 ms round
// trip the one-to-one p99 fell from 305, 360, 258 to 228, 245, 208 ms, and the group finished
// no later (offpush bench --profile hot-group --apns-rtt 100ms, the two binaries taking turns).
func (s *sender) pick(lane Lane) *conn {
	conns := *s.conns.Load()
	if len(conns) == 1 {
		return conns[0]
	}
	if lane == Bulk {
		first := conns[0]
		if c := mostFree(conns[1:]); c.free() > 0 || first.free() <= 0 {
			return c
		}
		return first
	}
	var best *conn
	var bulk, free int32
	for _, c := range conns {
		f := c.free()
		if f <= 0 {
			continue
		}
		if b := c.bulk.Load(); best == nil || b < bulk || b == bulk && f > free {
			best, bulk, free = c, b, f
		}
	}
	if best == nil {
		return mostFree(conns)
	}
	return best
}

// free is how many more requests c's stream limit allows now.
func (c *conn) free() int32 { return c.limit.Load() - c.active.Load() }

// mostFree is the connection of conns (not empty) with the most free streams, the first of
// them on a tie.
func mostFree(conns []*conn) *conn {
	best, free := conns[0], conns[0].free()
	for _, c := range conns[1:] {
		if f := c.free(); f > free {
			best, free = c, f
		}
	}
	return best
}

// adapt re-reads the connections' stream limits, sets the slots to them and adds a
// connection when requests wait for slots that more streams would give.
func (s *sender) adapt() {
	conns := *s.conns.Load()
	total, known := 0, true
	for _, c := range conns {
		sl, ok := c.tr.(streamLimiter)
		if !ok {
			known = false
			break
		}
		n := sl.MaxConcurrentStreams()
		if n <= 0 {
			n = s.share // not dialled yet, or lost: it will redial
		}
		c.limit.Store(int32(min(n, 1<<30)))
		total += n
	}
	if !known {
		return // net/http: the transport bounds each connection itself
	}
	s.slots.setLimit(min(s.inFlight, total))
	if total < s.inFlight && len(conns) < s.maxConns && s.slots.saturated() {
		s.grow(len(conns))
	}
}

// grow adds a connection, unless another call did since the caller saw had connections.
func (s *sender) grow(had int) {
	s.growMu.Lock()
	defer s.growMu.Unlock()
	conns := *s.conns.Load()
	if len(conns) != had {
		return
	}
	next := append(slices.Clip(conns), s.newConn())
	s.conns.Store(&next)
	s.slots.setLimit(min(s.inFlight, s.slots.limitNow()+s.share))
}

// connections is the number of connections the certificate has.
func (s *sender) connections() int { return len(*s.conns.Load()) }

// idleCloser is a RoundTripper whose idle connection Pool.Close closes.
type idleCloser interface {
	http.RoundTripper
	CloseIdleConnections()
}

// newTransport is the HTTP/2 client of one connection that o.Transport selects.
func newTransport(c Certificate, o Options) idleCloser {
	cfg := &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	if c.TLS != nil {
		cfg.Certificates = []tls.Certificate{*c.TLS}
	}
	if o.Transport == TransportH2 {
		return &h2.Transport{TLSConfig: cfg, DialTimeout: dialTimeout, PingInterval: pingAfter, Timeout: o.Timeout}
	}
	return newNetHTTPTransport(cfg)
}

// newNetHTTPTransport is an HTTP/2-only transport of its own (net/http's: x/net's
// http2.Transport is deprecated in its favour). It keeps one connection, a second only if
// APNs's concurrent-stream limit is reached. MaxConnsPerHost 1 makes a burst of first
// requests wait for one dial instead of dialling a connection each and closing all but one:
// APNs treats such connection churn as an attack. (h2.Transport keeps exactly one connection
// and queues requests beyond the stream limit.)
func newNetHTTPTransport(cfg *tls.Config) *http.Transport {
	var protos http.Protocols
	protos.SetHTTP2(true)
	return &http.Transport{
		TLSClientConfig:     cfg,
		Protocols:           &protos,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: pingAfter},
		DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: pingAfter}).DialContext,
		TLSHandshakeTimeout: handshakeTimeout,
		MaxConnsPerHost:     1,
	}
}

// push sends n on the connection pick chooses for lane and classifies the answer.
func (s *sender) push(ctx context.Context, n *Request, lane Lane) Result {
	var bearer string
	if s.token != nil {
		bearer = s.token.GenerateIfExpired()
	}
	pc := &pushCtx{Context: ctx}
	ctx = pc
	if !s.timed {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	c := s.pick(lane)
	c.active.Add(1)
	if lane == Bulk {
		c.bulk.Add(1)
	}
	start := time.Now()
	resp, err := c.client.PushWithContext(ctx, notification(n))
	r := Result{Duration: time.Since(start)}
	c.active.Add(-1)
	if lane == Bulk {
		c.bulk.Add(-1)
	}
	if s.ticks.Add(1)%adaptEvery == 0 {
		s.adapt()
	}
	if err != nil {
		var ue *url.Error // "Post <url with the device token>: …": keep the cause only
		if errors.As(err, &ue) {
			err = ue.Err
		}
		r.Class, r.Err = Retry, fmt.Errorf("push to APNs: %w", err)
		return r
	}
	r.Status, r.Reason, r.ApnsID = resp.StatusCode, resp.Reason, resp.ApnsID
	r.Timestamp = resp.Timestamp.Time
	r.Class = Classify(r.Status, r.Reason)
	if r.Class == Retry {
		r.RetryAfter = retryAfter(r.Status, pc.retryAfter)
	}
	if r.Class == RefreshAuth && s.token != nil {
		r.Err = s.refresh(bearer)
	}
	return r
}

// refresh regenerates the JWT after APNs called the one sent (used) expired. Many requests in
// flight can carry the same stale JWT; only the first regenerates, as APNs answers 429
// TooManyProviderTokenUpdates to frequent refreshes.
func (s *sender) refresh(used string) error {
	s.token.Lock()
	defer s.token.Unlock()
	if s.token.Bearer != used {
		return nil
	}
	if _, err := s.token.Generate(); err != nil {
		return fmt.Errorf("regenerate provider token: %w", err)
	}
	return nil
}

func (s *sender) close() {
	for _, c := range *s.conns.Load() {
		c.tr.CloseIdleConnections()
	}
}

// retryAfter is the RetryAfter hint from a Retry-After header value (seconds or HTTP date).
func retryAfter(status int, header string) time.Duration {
	if header != "" {
		if secs, err := strconv.Atoi(header); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second
		}
		if t, err := http.ParseTime(header); err == nil {
			return max(time.Until(t), 0)
		}
	}
	if status == http.StatusTooManyRequests {
		return defaultRetryAfter
	}
	return 0
}

type retryAfterKey struct{}

// pushCtx is the context of one request: its parent's, and the Retry-After value that
// hintTransport finds under retryAfterKey. One allocation, where context.WithValue and a
// *string were two.
type pushCtx struct {
	context.Context
	retryAfter string
}

func (c *pushCtx) Value(key any) any {
	if key == (retryAfterKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// expirationNow is the "apns-expiration: 0" header value; transports only read it.
var expirationNow = []string{"0"}

// hintTransport adds to apns2 what its Client cannot express: it reads the Retry-After header
// (apns2.Response has no headers) into the request context's pushCtx,
// and sends "apns-expiration: 0" (deliver once, do not store: Request's zero
// Expiration) where apns2 would omit the header. apns2 builds a fresh request per push and
// never reuses it, so setting a header here is safe.
type hintTransport struct{ next http.RoundTripper }

func (t hintTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, ok := req.Header["Apns-Expiration"]; !ok {
		req.Header["Apns-Expiration"] = expirationNow
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if pc, ok := req.Context().Value(retryAfterKey{}).(*pushCtx); ok {
			pc.retryAfter = v
		}
	}
	return resp, nil
}
