// Package apnssim is an APNs simulator: an HTTP/2 TLS server speaking Apple's
// provider API, with a control API under /sim/ to mark tokens unregistered, inject faults and
// latency, and read back every accepted notification. Tests start it in-process; `offpush
// apns-sim` runs it standalone (Command). It is the load target of benchmarks, so a request
// costs a few microseconds of CPU: no goroutines beyond net/http's, no payload re-encoding,
// one verification per distinct JWT.
package apnssim

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. The zero value is a simulator on a free loopback port that
// accepts certificate auth for any topic.
type Options struct {
	Addr          string                      // listen address; default "127.0.0.1:0"
	Keys          map[string]*ecdsa.PublicKey // token auth: key id → public key of the .p8 key
	TeamID        string                      // token auth: required iss claim; "" accepts any
	AllowedTopics []string                    // empty: any topic
	Deliveries    io.Writer                   // each accepted notification as a JSON line
	MaxKept       int                         // deliveries kept in memory; default 1,000,000, counted beyond
	Latency       time.Duration               // initial SetLatency
	LatencyJitter time.Duration               // initial SetJitter
	Logf          func(format string, args ...any)
}

// DefaultMaxKept is the default of Options.MaxKept.
const DefaultMaxKept = 1_000_000

// flushEvery is how often the Deliveries writer is flushed.
const flushEvery = 50 * time.Millisecond

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	ln      net.Listener
	srv     *http.Server
	caPEM   []byte
	pool    *x509.CertPool
	url     string
	tokens  *tokenVerifier
	topics  map[string]bool
	idSeed  [8]byte
	idSeq   atomic.Uint64
	started sync.Once
	closed  sync.Once
	stop    chan struct{}
	flushed chan struct{}

	state // faults, latency, jitter, unregistered tokens, deliveries, counters
}

// New generates the TLS certificate and opens the listener; Start serves.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MaxKept <= 0 {
		opts.MaxKept = DefaultMaxKept
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	cert, caPEM, err := serverCert()
	if err != nil {
		return nil, fmt.Errorf("apns simulator: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("apns simulator: listen: %w", err)
	}
	s := &Server{opts: opts, ln: ln, caPEM: caPEM, pool: x509.NewCertPool(),
		url:    "https://" + ln.Addr().String(),
		tokens: newTokenVerifier(opts.Keys, opts.TeamID),
		stop:   make(chan struct{}), flushed: make(chan struct{})}
	s.pool.AppendCertsFromPEM(caPEM)
	_, _ = rand.Read(s.idSeed[:])
	s.topics = make(map[string]bool, len(opts.AllowedTopics))
	for _, t := range opts.AllowedTopics {
		s.topics[t] = true
	}
	s.state.init(opts)
	s.srv = s.newHTTPServer(cert)
	return s, nil
}

func (s *Server) newHTTPServer(cert tls.Certificate) *http.Server {
	return &http.Server{
		Handler: http.HandlerFunc(s.route),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequestClientCert, // certificate auth: any certificate, checked per request
			MinVersion:   tls.VersionTLS12,
		},
		HTTP2:     &http.HTTP2Config{MaxConcurrentStreams: 1000}, // as APNs advertises
		ConnState: s.countConn,
		ErrorLog:  log.New(logfWriter(s.opts.Logf), "", 0),
	}
}

// route sends /sim/ to the control API and everything else to the provider API (a ServeMux
// costs more than the provider handler itself).
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/sim/") {
		s.serveControl(w, r)
		return
	}
	s.serveProvider(w, r)
}

// Start serves in the background until Close.
func (s *Server) Start() {
	s.started.Do(func() {
		go func() {
			if err := s.srv.ServeTLS(s.ln, "", ""); err != nil && err != http.ErrServerClosed {
				s.opts.Logf("apns simulator: serve: %v", err)
			}
		}()
		go s.flushLoop()
	})
}

// URL is the base URL of the provider API, e.g. "https://127.0.0.1:2197".
func (s *Server) URL() string { return s.url }

// CertPool trusts the simulator's TLS certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// CAPEM is the simulator's TLS certificate in PEM, for clients in another process.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Close stops serving, closes every connection and flushes the Deliveries writer.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		err = s.srv.Close()
		_ = s.ln.Close() // already closed by srv.Close once serving; not if Start was never called
		close(s.stop)
		s.started.Do(func() { close(s.flushed) }) // never started: no flush loop to wait for
		<-s.flushed
		if ferr := s.flushDeliveries(); ferr != nil && err == nil {
			err = fmt.Errorf("apns simulator: flush deliveries: %w", ferr)
		}
	})
	return err
}

func (s *Server) flushLoop() {
	defer close(s.flushed)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.flushDeliveries(); err != nil {
				s.opts.Logf("apns simulator: flush deliveries: %v", err)
			}
		}
	}
}

func (s *Server) countConn(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.connections.Add(1)
		s.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.open.Add(-1)
	}
}

// logfWriter turns net/http's error log (TLS handshake errors and the like) into Logf lines.
type logfWriter func(string, ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("apns simulator: %s", trimNewline(p))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}

// bufferedWriter wraps the Deliveries writer; nil when there is none.
func bufferedWriter(w io.Writer) *bufio.Writer {
	if w == nil {
		return nil
	}
	return bufio.NewWriterSize(w, 64<<10)
}
