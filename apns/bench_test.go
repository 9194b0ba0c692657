//go:build unix

package apns

import (
	"context"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"offpush/apnssim"
)

// BenchmarkSend sends in parallel through a Pool (default options: 2 connections, 1000 in
// flight) to a simulator in a child process, and reports the CPU time of the sending side
// (cpu-ns/op: Pool, apns2, HTTP/2, TLS) and of the simulator (sim-cpu-ns/op) per notification,
// with each HTTP/2 client.
func BenchmarkSend(b *testing.B) {
	for _, transport := range []string{TransportNetHTTP, TransportH2} {
		b.Run(strings.ReplaceAll(transport, "/", "-"), func(b *testing.B) { benchmarkSend(b, transport) })
	}
}

func benchmarkSend(b *testing.B, transport string) {
	sim, err := apnssim.StartProcess()
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	tlsCert, err := apnssim.ClientCertificate(certTopic)
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewPool([]Certificate{{ID: certID, Topic: certTopic, TLS: &tlsCert}},
		Options{Host: sim.URL, RootCAs: sim.CertPool(), Transport: transport})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for range 4 { // connect both connections
		if r := p.Send(context.Background(), certID, note(certTopic), Fast); r.Class != Sent {
			b.Fatalf("warm-up Send = %+v", r)
		}
	}
	var failed atomic.Int64
	simBefore, simErr := sim.CPUTime()
	before := processCPU()
	b.ResetTimer()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		n := note(certTopic)
		for pb.Next() {
			if r := p.Send(context.Background(), certID, n, Fast); r.Class != Sent {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d sends failed", failed.Load())
	}
	b.ReportMetric(float64(processCPU()-before)/float64(b.N), "cpu-ns/op")
	if simAfter, err := sim.CPUTime(); err == nil && simErr == nil {
		b.ReportMetric(float64(simAfter-simBefore)/float64(b.N), "sim-cpu-ns/op")
	}
}

// processCPU is the user+system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
