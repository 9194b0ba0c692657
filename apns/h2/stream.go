package h2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2/hpack"
)

// maxResponseBody bounds a buffered response body; APNs answers with at most a small JSON
// object.
const maxResponseBody = 1 << 20

// indexed reports whether a request header is the same for every push of a connection (or
// changes hourly, like the provider token) and so goes into the HPACK dynamic table. Every
// other header (:path with its device token, apns-id, apns-collapse-id, apns-expiration,
// content-length) is sent never-indexed, so that a push's unique values do not evict the
// constant ones.
func indexed(name string) bool {
	switch name {
	case ":method", ":scheme", ":authority", "content-type", "apns-push-type", "apns-priority",
		"apns-topic", "authorization", "user-agent", "accept-encoding":
		return true
	}
	return false
}

// hopByHop reports whether a canonical header key is an HTTP/1 connection header that HTTP/2
// forbids (RFC 9113 §8.2.2) or one this package sets itself.
func hopByHop(key string) bool {
	switch key {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Host",
		"Content-Length", "Te":
		return true
	}
	return false
}

// stream is one request and, once answered, its response. The fields after the request part
// are written by the connection's goroutines under Conn.mu; the caller reads them after done
// is closed.
type stream struct {
	fields []hpack.HeaderField // request headers, lower-case names
	body   []byte              // request body
	fa     [12]hpack.HeaderField
	done   chan struct{} // closed when the response is complete or the stream failed

	deadline time.Time     // Transport.Timeout after RoundTrip began; zero: none
	timeout  time.Duration // that Timeout, for the error

	// Under Conn.mu.
	id       uint32
	sent     int   // body bytes reserved for DATA frames
	sendWin  int64 // stream send window
	recvWin  int64 // stream receive window left
	recvAck  int64 // received bytes not yet returned by WINDOW_UPDATE
	finished bool  // done is closed
	queued   bool  // in Conn.queue, not yet opened

	// Written by the reader goroutine before done is closed.
	status int
	header http.Header
	data   []byte
	err    error
}

// newStream reads req into a stream: its header fields and its whole body (APNs payloads are
// at most 4 KB). It closes req.Body, as a RoundTripper must.
func newStream(req *http.Request, authority string) (*stream, error) {
	s := &stream{}
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	s.body = body
	f := append(s.fa[:0],
		hpack.HeaderField{Name: ":method", Value: req.Method},
		hpack.HeaderField{Name: ":scheme", Value: "https"},
		hpack.HeaderField{Name: ":authority", Value: authority},
		hpack.HeaderField{Name: ":path", Value: req.URL.RequestURI(), Sensitive: true},
	)
	for k, vv := range req.Header {
		if hopByHop(k) {
			continue
		}
		name := lowerName(k)
		for _, v := range vv {
			f = append(f, hpack.HeaderField{Name: name, Value: v, Sensitive: !indexed(name)})
		}
	}
	if len(body) > 0 {
		f = append(f, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body)), Sensitive: true})
	}
	s.fields = f
	s.reset()
	return s, nil
}

// expired reports whether s has a deadline and now is past it.
func (s *stream) expired(now time.Time) bool {
	return !s.deadline.IsZero() && now.After(s.deadline)
}

func (s *stream) timeoutErr() error {
	return fmt.Errorf("h2: no response within %v: %w", s.timeout, context.DeadlineExceeded)
}

// reset prepares s to be sent (again) on a connection.
func (s *stream) reset() {
	s.done = make(chan struct{})
	s.id, s.sent, s.finished, s.queued = 0, 0, false, false
	s.status, s.header, s.data, s.err = 0, nil, nil, nil
}

func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	n := req.ContentLength
	if n < 0 || n > maxResponseBody {
		n = 512
	}
	buf := make([]byte, 0, n)
	for {
		m, err := req.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("h2: read request body: %w", err)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// lowerName is the HTTP/2 (lower-case) name of a canonical header key, without allocating for
// the headers apns2 sends.
func lowerName(k string) string {
	switch k {
	case "Content-Type":
		return "content-type"
	case "Apns-Topic":
		return "apns-topic"
	case "Apns-Id":
		return "apns-id"
	case "Apns-Collapse-Id":
		return "apns-collapse-id"
	case "Apns-Priority":
		return "apns-priority"
	case "Apns-Expiration":
		return "apns-expiration"
	case "Apns-Push-Type":
		return "apns-push-type"
	case "Authorization":
		return "authorization"
	}
	return strings.ToLower(k)
}

// canonicalName is the http.Header key of a response header name.
func canonicalName(name string) string {
	switch name {
	case "apns-id":
		return "Apns-Id"
	case "apns-unique-id":
		return "Apns-Unique-Id"
	case "content-type":
		return "Content-Type"
	case "retry-after":
		return "Retry-After"
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// response is the http.Response of a finished stream.
func (s *stream) response(req *http.Request) *http.Response {
	resp := &http.Response{
		Status:        statusLine(s.status),
		StatusCode:    s.status,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        s.header,
		ContentLength: int64(len(s.data)),
		Request:       req,
		Body:          http.NoBody,
	}
	if len(s.data) > 0 {
		resp.Body = &body{b: s.data}
	}
	return resp
}

// statusLines are the http.Response.Status of APNs's answers, made once.
var statusLines = func() map[int]string {
	m := map[int]string{}
	for _, code := range []int{200, 400, 403, 404, 405, 410, 413, 429, 500, 503} {
		m[code] = strconv.Itoa(code) + " " + http.StatusText(code)
	}
	return m
}()

func statusLine(code int) string {
	if s, ok := statusLines[code]; ok {
		return s
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// body is a response body buffered in memory.
type body struct {
	b   []byte
	off int
}

func (b *body) Read(p []byte) (int, error) {
	if b.off >= len(b.b) {
		return 0, io.EOF
	}
	n := copy(p, b.b[b.off:])
	b.off += n
	return n, nil
}

func (b *body) Close() error { return nil }
