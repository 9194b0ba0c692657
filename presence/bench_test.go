package presence_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"offpush/internal/testenv"
	"offpush/presence"
)

const benchBatch = 500

func benchStore(b *testing.B) *presence.Store {
	srv := testenv.Start(b)
	return presence.New(srv.Client(b), presence.Options{})
}

// BenchmarkLookup reads batches of 500 users with two devices, settings and a receive
// option each.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b)
	users := seedUsers(b, s, benchBatch)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Lookup(ctx, users); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "recipients/s")
}

// BenchmarkLookupParallel is BenchmarkLookup from GOMAXPROCS goroutines, as the pipeline's
// workers call it.
func BenchmarkLookupParallel(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b)
	users := seedUsers(b, s, benchBatch)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Lookup(ctx, users); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "recipients/s")
}

// BenchmarkClaim claims batches of 500 new (message, device) pairs spread over 500 users,
// with the message's sentAt as the pipeline claims, and without one (the claim searches the
// buckets of the last DedupeTTL).
func BenchmarkClaim(b *testing.B) {
	for name, sentAt := range map[string]time.Time{"sentAt": time.Now(), "zeroSentAt": {}} {
		b.Run(name, func(b *testing.B) { benchClaim(b, sentAt) })
	}
}

func benchClaim(b *testing.B, sentAt time.Time) {
	ctx := context.Background()
	s := benchStore(b)
	users := seedUsers(b, s, benchBatch)
	claims := make([]presence.Claim, benchBatch)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		msg := "msg-" + strconv.Itoa(n)
		for i, u := range users {
			claims[i] = presence.Claim{UserID: u, MsgID: msg, Token: "0f00d" + strconv.Itoa(i), SentAt: sentAt}
		}
		r, err := s.Claim(ctx, claims)
		if err != nil || r[0].State != presence.ClaimNew {
			b.Fatalf("claim: %v %+v", err, r[0])
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "claims/s")
}
