// Package h2 is a lean HTTP/2 client for APNs: an http.RoundTripper (Transport) that keeps
// one connection, coalesces the frames of concurrent requests into one TLS write from one
// writer goroutine, reads responses on one reader goroutine, and keeps the HPACK dynamic table
// for the headers that are the same on every push. It speaks enough HTTP/2 for a server like
// APNs: flow control, MAX_CONCURRENT_STREAMS, PING, GOAWAY, RST_STREAM; no server push, no
// streaming bodies (request and response bodies are buffered in memory).
package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Backoff between sends of a request the server did not process (REFUSED_STREAM, above a
// GOAWAY's last stream id, never written): it doubles from unprocessedBackoff up to
// maxUnprocessedBackoff, and the request's context, not a count, ends it. Such a send is not
// an attempt: the server never saw the request.
const (
	unprocessedBackoff    = 5 * time.Millisecond
	maxUnprocessedBackoff = time.Second
)

// Transport is an http.RoundTripper over one HTTP/2 connection, dialled on first use and
// again after the connection is lost or the server sent GOAWAY. Requests the server did not
// process are sent again, after a backoff, until their context ends; requests in flight on a
// lost connection fail.
// The zero value dials the request's host with the default settings.
type Transport struct {
	Addr         string        // host:port to dial; "" → the request URL's host (port 443 by default)
	TLSConfig    *tls.Config   // cloned; NextProtos is set to h2
	DialTimeout  time.Duration // TCP and TLS handshake and SETTINGS; default 20s
	PingInterval time.Duration // ping after this long without a frame, fail if unanswered; default 15s
	// Timeout bounds a request from RoundTrip to its answer, sends again of an unprocessed
	// request included (a dial it waits for is bounded by DialTimeout), without a timer per
	// request: each connection checks its requests every Timeout/10 (at least every second),
	// so one fails up to that much late, with an error that wraps context.DeadlineExceeded.
	// 0: only the request's context ends it.
	Timeout time.Duration

	maxID   uint32 // tests: last stream id of a connection; 0 → 2^31-1
	cur     atomic.Pointer[Conn]
	mu      sync.Mutex
	dialing *dialCall
}

// dialCall is a dial in progress that requests wait for.
type dialCall struct {
	done chan struct{}
	conn *Conn
	err  error
}

// RoundTrip sends req and returns the buffered response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		closeBody(req)
		return nil, fmt.Errorf("h2: unsupported scheme %q", req.URL.Scheme)
	}
	s, err := newStream(req, authority(req))
	if err != nil {
		return nil, err
	}
	if t.Timeout > 0 {
		s.deadline, s.timeout = time.Now().Add(t.Timeout), t.Timeout
	}
	wait := unprocessedBackoff
	for {
		c, err := t.conn(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, err := c.roundTrip(req, s)
		var unprocessed unprocessedError
		if err == nil || !errors.As(err, &unprocessed) {
			return resp, err
		}
		if !c.usable() {
			t.drop(c) // GOAWAY or lost; REFUSED_STREAM leaves the connection in use
		}
		s.reset()
		pause := wait
		if !s.deadline.IsZero() {
			pause = min(pause, time.Until(s.deadline))
		}
		select {
		case <-req.Context().Done():
			return nil, err
		case <-time.After(pause):
		}
		if s.expired(time.Now()) {
			return nil, fmt.Errorf("%w (last send: %w)", s.timeoutErr(), err)
		}
		wait = min(2*wait, maxUnprocessedBackoff)
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func authority(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// conn is the current connection, dialled if there is none or it is unusable. The fast path
// does not check: a request on a dead connection fails unprocessed, and RoundTrip drops it.
func (t *Transport) conn(ctx context.Context, host string) (*Conn, error) {
	if c := t.cur.Load(); c != nil {
		return c, nil
	}
	t.mu.Lock()
	if c := t.cur.Load(); c != nil && c.usable() {
		t.mu.Unlock()
		return c, nil
	}
	d := t.dialing
	if d == nil {
		d = &dialCall{done: make(chan struct{})}
		t.dialing = d
		go t.dial(d, t.addr(host))
	}
	t.mu.Unlock()
	select {
	case <-d.done:
		return d.conn, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial runs one dial for every request waiting: with its own timeout, not a request's
// context, so that one cancelled request does not fail the others.
func (t *Transport) dial(d *dialCall, addr string) {
	timeout, ping := t.DialTimeout, t.PingInterval
	if timeout <= 0 {
		timeout = defaultDial
	}
	if ping <= 0 {
		ping = defaultPing
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d.conn, d.err = dial(ctx, addr, t.TLSConfig, ping, t.maxID)
	t.mu.Lock()
	if d.err == nil {
		t.cur.Store(d.conn)
		if t.Timeout > 0 {
			go d.conn.expireLoop(t.Timeout)
		}
	}
	t.dialing = nil
	t.mu.Unlock()
	close(d.done)
}

func (t *Transport) addr(host string) string {
	if t.Addr != "" {
		return t.Addr
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		return net.JoinHostPort(host, "443")
	}
	return host
}

// drop forgets c if it is still the current connection.
func (t *Transport) drop(c *Conn) {
	t.cur.CompareAndSwap(c, nil)
}

// MaxConcurrentStreams is the current connection's stream limit as the server's last SETTINGS
// set it; 0 when there is no usable connection (none dialled yet, or it was lost).
func (t *Transport) MaxConcurrentStreams() int {
	c := t.cur.Load()
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.goingAway {
		return 0
	}
	return c.maxActive
}

// CloseIdleConnections closes the connection if no request is queued or in flight (apns2's
// Client.CloseIdleConnections calls it).
func (t *Transport) CloseIdleConnections() {
	if c := t.cur.Load(); c != nil && c.idle() {
		t.drop(c)
		_ = c.Close()
	}
}

// Close closes the connection; requests in flight fail.
func (t *Transport) Close() error {
	if c := t.cur.Swap(nil); c != nil {
		return c.Close()
	}
	return nil
}
