package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Protocol parameters.
const (
	clientPreface     = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	defaultWindow     = 65535               // RFC 9113 initial flow-control window
	defaultFrameSize  = 16384               // RFC 9113 initial SETTINGS_MAX_FRAME_SIZE
	defaultTableSize  = 4096                // RFC 7541 initial SETTINGS_HEADER_TABLE_SIZE
	maxHeaderList     = 64 << 10            // our SETTINGS_MAX_HEADER_LIST_SIZE
	maxStreamID       = 1<<31 - 1           // stream ids are 31 bits
	maxWindow         = 1<<31 - 1           // largest flow-control window
	writeTimeout      = 15 * time.Second    // a write that takes longer fails the connection
	settingsTimeout   = 10 * time.Second    // wait for the server's first SETTINGS
	defaultPing       = 15 * time.Second    // Transport.PingInterval default
	defaultDial       = 20 * time.Second    // Transport.DialTimeout default
	readBufferSize    = 32 << 10            // bufio reader over the TLS connection
	unboundedStreams  = 1 << 31             // SETTINGS_MAX_CONCURRENT_STREAMS before the server says
	recvWindowRefresh = defaultWindow / 2   // return received bytes once this many are pending
	maxBatch          = 256 << 10           // bytes of frames built before a write
	errCodeNoError    = http2.ErrCodeNo     // GOAWAY on Close
	errCodeCancel     = http2.ErrCodeCancel // RST_STREAM of a cancelled request
	errCodeProtocol   = http2.ErrCodeProtocol
)

// ErrConnClosed is the cause of requests that a lost or closed connection failed.
var ErrConnClosed = errors.New("h2: connection closed")

// unprocessedError marks a request that the server did not process (not yet sent, above a
// GOAWAY's last stream id, or refused): it can be sent again on another connection.
type unprocessedError struct{ err error }

func (e unprocessedError) Error() string { return e.err.Error() }
func (e unprocessedError) Unwrap() error { return e.err }

// Conn is one HTTP/2 client connection: one writer goroutine that coalesces the frames of
// every request queued meanwhile into one TLS write, and one reader goroutine that hands
// responses to their streams. It is safe for concurrent use.
type Conn struct {
	tc        *tls.Conn
	authority string // :authority default when the request has no host
	closed    chan struct{}
	wake      chan struct{} // cap 1: the writer has work
	readSeen  atomic.Bool   // a frame arrived since the last ping check
	pingAcked atomic.Bool

	mu        sync.Mutex
	err       error // set once the connection failed; no stream may start
	goingAway bool  // GOAWAY received or ids exhausted: no new streams
	queue     []*stream
	streams   map[uint32]*stream
	blocked   []*stream // opened streams with body bytes waiting for send window
	ctrl      []byte    // control frames for the writer to send first
	nextID    uint32
	maxID     uint32 // last stream id this connection may use
	maxActive int
	sendWin   int64 // connection send window
	peerInit  int64 // peer's SETTINGS_INITIAL_WINDOW_SIZE
	frameSize int   // peer's SETTINGS_MAX_FRAME_SIZE
	tableSize uint32
	tableMin  uint32 // while newTable: the smallest tableSize since the writer's last update
	newTable  bool   // tableSize changed: the writer updates its encoder
	recvAck   int64  // connection-level received bytes not yet returned

	// Writer goroutine only.
	enc   *encoder
	hbuf  []byte
	wbuf  []byte
	batch []op

	// Reader goroutine only.
	fr  *http2.Framer
	dec *hpack.Decoder
	hdr headerBlock
}

// Dial connects to addr (host:port) over TLS with ALPN "h2" and exchanges SETTINGS. The
// connection pings the server after 15s without a frame and fails if no answer comes.
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config) (*Conn, error) {
	return dial(ctx, addr, tlsConfig, defaultPing, 0)
}

func dial(ctx context.Context, addr string, tlsConfig *tls.Config, ping time.Duration, maxID uint32) (*Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("h2: address %q: %w", addr, err)
	}
	cfg := tlsConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.NextProtos = []string{"h2"}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{KeepAlive: ping}, Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("h2: dial %s: %w", addr, err)
	}
	tc := nc.(*tls.Conn)
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		return nil, fmt.Errorf("h2: %s negotiated ALPN %q, want h2", addr, p)
	}
	c := newConn(tc, host)
	if maxID > 0 {
		c.maxID = maxID
	}
	if err := c.handshake(ctx); err != nil {
		tc.Close()
		return nil, fmt.Errorf("h2: %s: %w", addr, err)
	}
	go c.readLoop()
	go c.writeLoop(ping)
	return c, nil
}

func newConn(tc *tls.Conn, authority string) *Conn {
	c := &Conn{tc: tc, authority: authority, closed: make(chan struct{}), wake: make(chan struct{}, 1),
		streams: make(map[uint32]*stream), nextID: 1, maxID: maxStreamID, maxActive: unboundedStreams,
		sendWin: defaultWindow, peerInit: defaultWindow, frameSize: defaultFrameSize,
		tableSize: defaultTableSize}
	c.pingAcked.Store(true)
	c.enc = newEncoder(defaultTableSize)
	c.fr = http2.NewFramer(nil, bufio.NewReaderSize(tc, readBufferSize))
	c.fr.SetReuseFrames()
	c.dec = hpack.NewDecoder(defaultTableSize, c.hdr.add)
	c.dec.SetMaxStringLength(maxHeaderList)
	return c
}

// handshake sends the preface and our SETTINGS and waits for the server's SETTINGS, so that
// the first requests already respect its limits.
func (c *Conn) handshake(ctx context.Context) error {
	deadline := time.Now().Add(settingsTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.tc.SetDeadline(deadline)
	defer c.tc.SetDeadline(time.Time{})
	b := append([]byte(clientPreface), ourSettings()...)
	if _, err := c.tc.Write(b); err != nil {
		return fmt.Errorf("write preface: %w", err)
	}
	f, err := c.fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("read server SETTINGS: %w", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return fmt.Errorf("server's first frame is %v, want SETTINGS", f.Header().Type)
	}
	return c.onSettings(sf) // queues the ACK
}

// ourSettings is the SETTINGS frame we open with: no server push, the default windows, and
// no dynamic table for response headers: APNs answers carry a unique apns-id that would only
// churn it.
func ourSettings() []byte {
	b := appendFrameHeader(nil, 18, http2.FrameSettings, 0, 0)
	b = appendSetting(b, http2.SettingEnablePush, 0)
	b = appendSetting(b, http2.SettingHeaderTableSize, 0)
	return appendSetting(b, http2.SettingMaxHeaderListSize, maxHeaderList)
}

// RoundTrip sends req on this connection and waits for the whole response or req's context.
// A request the server did not process fails with an error that Transport retries on a new
// connection.
func (c *Conn) RoundTrip(req *http.Request) (*http.Response, error) {
	s, err := newStream(req, c.requestAuthority(req))
	if err != nil {
		return nil, err
	}
	return c.roundTrip(req, s)
}

func (c *Conn) requestAuthority(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	if req.URL.Host != "" {
		return req.URL.Host
	}
	return c.authority
}

func (c *Conn) roundTrip(req *http.Request, s *stream) (*http.Response, error) {
	if err := c.enqueue(s); err != nil {
		return nil, err
	}
	ctx := req.Context()
	select {
	case <-s.done:
	case <-ctx.Done():
		if !c.cancel(s) {
			return nil, ctx.Err()
		}
		<-s.done // finished while we were cancelling
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.response(req), nil
}

// enqueue hands s to the writer.
func (c *Conn) enqueue(s *stream) error {
	c.mu.Lock()
	if err := c.unusableLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	s.queued = true
	c.queue = append(c.queue, s)
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *Conn) unusableLocked() error {
	switch {
	case c.err != nil:
		return unprocessedError{c.err}
	case c.goingAway:
		return unprocessedError{fmt.Errorf("connection going away: %w", ErrConnClosed)}
	}
	return nil
}

// signal wakes the writer.
func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// cancel withdraws s: out of the queue if it was not sent yet, else reset with RST_STREAM
// CANCEL. False if s had finished already.
func (c *Conn) cancel(s *stream) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.finished {
		return true
	}
	if s.queued {
		c.queue = remove(c.queue, s)
	} else {
		c.ctrl = appendRSTStream(c.ctrl, s.id, errCodeCancel)
		c.closeStreamLocked(s)
		c.signal()
	}
	s.finished = true
	return false
}

// closeStreamLocked forgets an opened stream; its slot may open a queued one.
func (c *Conn) closeStreamLocked(s *stream) {
	delete(c.streams, s.id)
	if s.sent < len(s.body) {
		c.blocked = remove(c.blocked, s)
	}
	if len(c.queue) > 0 {
		c.signal()
	}
	if c.goingAway && len(c.streams) == 0 && c.err == nil {
		c.failLocked(fmt.Errorf("drained after GOAWAY: %w", ErrConnClosed))
	}
}

// expireLoop fails, every timeout/10 (at most every second), the requests whose deadline
// passed: queued ones leave the queue, sent ones are reset with RST_STREAM CANCEL.
func (c *Conn) expireLoop(timeout time.Duration) {
	t := time.NewTicker(min(max(timeout/10, time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case now := <-t.C:
			c.expire(now)
		}
	}
}

func (c *Conn) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.queue[:0]
	for _, s := range c.queue {
		if !s.expired(now) {
			kept = append(kept, s)
			continue
		}
		s.queued = false
		c.finishLocked(s, s.timeoutErr())
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	for _, s := range c.streams {
		if s.expired(now) {
			c.ctrl = appendRSTStream(c.ctrl, s.id, errCodeCancel)
			c.closeStreamLocked(s)
			c.finishLocked(s, s.timeoutErr())
			c.signal()
		}
	}
}

// finishLocked completes s with err (nil: the response is in s).
func (c *Conn) finishLocked(s *stream, err error) {
	if s.finished {
		return
	}
	s.err, s.finished = err, true
	close(s.done)
}

func remove(list []*stream, s *stream) []*stream {
	for i, x := range list {
		if x == s {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

// usable reports whether new requests may go to c.
func (c *Conn) usable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unusableLocked() == nil
}

// idle reports whether no request is queued or in flight.
func (c *Conn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) == 0 && len(c.streams) == 0
}

// Close sends GOAWAY and closes the connection; requests in flight fail.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil
	}
	_ = c.tc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.tc.Write(appendGoAway(nil, 0, errCodeNoError)) // best effort; the writer may be mid-write
	c.failLocked(fmt.Errorf("closed by the client: %w", ErrConnClosed))
	return nil
}

// fail closes the connection because of err, failing every queued and open stream.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failLocked(err)
}

func (c *Conn) failLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	for _, s := range c.queue {
		c.finishLocked(s, unprocessedError{err})
	}
	for _, s := range c.streams {
		c.finishLocked(s, err)
	}
	c.queue, c.streams, c.blocked = nil, map[uint32]*stream{}, nil
	close(c.closed)
	c.tc.Close()
}

// connErr wraps a cause of connection loss.
func connErr(what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s: %w: %w", what, ErrConnClosed, err)
}
