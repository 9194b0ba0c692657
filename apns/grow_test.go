package apns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"offpush/apnssim"
)

// TestStreamLimitsAndGrowth: with the h2 transport the in-flight slots follow the server's
// SETTINGS_MAX_CONCURRENT_STREAMS, and a certificate whose requests wait on connections that
// allow fewer streams than InFlight gets more connections, up to MaxConnections.
func TestStreamLimitsAndGrowth(t *testing.T) {
	const streams, maxConns = 5, 3
	var cur, peak atomic.Int32
	var mu sync.Mutex
	remotes := map[string]bool{}
	url, roots, tlsCert := streamServer(t, streams, func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
	})
	p, err := NewPool([]Certificate{{ID: certID, Topic: certTopic, TLS: &tlsCert}},
		Options{Host: url, RootCAs: roots, Transport: TransportH2, Connections: 1, MaxConnections: maxConns, InFlight: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 600 {
		wg.Go(func() {
			if r := p.Send(context.Background(), certID, note(certTopic), Fast); r.Class != Sent {
				failed.Add(1)
				t.Log(r)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of 600 pushes failed", failed.Load())
	}
	s := p.senders[certID]
	if got := s.connections(); got != maxConns {
		t.Errorf("%d connections, want MaxConnections = %d", got, maxConns)
	}
	if got := s.slots.limitNow(); got != maxConns*streams {
		t.Errorf("slot limit %d, want connections × streams = %d", got, maxConns*streams)
	}
	if got := peak.Load(); got > maxConns*streams {
		t.Errorf("%d requests at once at the server, want at most %d", got, maxConns*streams)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != maxConns {
		t.Errorf("server saw %d connections, want %d", len(remotes), maxConns)
	}
}

// streamServer starts an HTTP/2 TLS server (Go's, not the simulator) allowing streams
// concurrent streams per connection, closed when the test ends. It returns its URL, a pool
// trusting it, and a client certificate for certTopic.
func streamServer(t *testing.T, streams int, h http.HandlerFunc) (string, *x509.CertPool, tls.Certificate) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: streams}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	cert, err := apnssim.ClientCertificate(certTopic)
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, roots, cert
}
