//go:build unix

package apnssim

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSimulator loads a simulator running in a child process over HTTP/2 TLS (4
// connections, many concurrent streams) and reports the CPU time the simulator spent per
// request (sim-cpu-ns/op) apart from the client's (client-cpu-ns/op).
func BenchmarkSimulator(b *testing.B) {
	sim, err := StartProcess()
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	cert := mustClientCert(b, testTopic)
	clients := make([]*http.Client, 4)
	for i := range clients {
		clients[i] = newClient(b, sim.CertPool(), cert)
	}
	url, body := sim.URL+"/3/device/"+testToken, []byte(testBody)
	post := func(c *http.Client) bool {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("apns-topic", testTopic)
		req.Header.Set("apns-push-type", "alert")
		req.Header.Set("apns-priority", "10")
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	for _, c := range clients { // connect and warm up
		post(c)
	}
	var next, failed atomic.Int64
	simBefore, _ := sim.CPUTime()
	selfBefore := selfCPU()
	b.ResetTimer()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		c := clients[next.Add(1)%int64(len(clients))]
		for pb.Next() {
			if !post(c) {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}
	if simAfter, err := sim.CPUTime(); err == nil {
		b.ReportMetric(float64(simAfter-simBefore)/float64(b.N), "sim-cpu-ns/op")
	}
	b.ReportMetric(float64(selfCPU()-selfBefore)/float64(b.N), "client-cpu-ns/op")
}

// selfCPU is the user+system CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProviderHandler measures the provider handler alone (no TLS, no HTTP/2 framing):
// validation, recording and the JSON line for the Deliveries writer.
func BenchmarkProviderHandler(b *testing.B) {
	s, err := New(Options{Deliveries: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cert := mustClientCert(b, testTopic)
	state := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}
	body := bytes.NewReader([]byte(testBody))
	req := httptest.NewRequest("POST", "/3/device/"+testToken, body)
	req.TLS = state
	req.Header.Set("apns-topic", testTopic)
	req.Header.Set("apns-push-type", "alert")
	w := discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		body.Seek(0, io.SeekStart)
		s.serveProvider(w, req)
	}
}

// discardWriter is a ResponseWriter that keeps nothing but its header map.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}
