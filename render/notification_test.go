package render

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestAPNsIDIsNewSHA1 checks that APNsID is uuid.NewSHA1 of msgID + "/" + token in
// apnsIDSpace, for short ids and for ones longer than its stack buffer, and pins one value
// that support may already have quoted to Apple.
func TestAPNsIDIsNewSHA1(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('a' + rnd.IntN(26)))
		}
		return b.String()
	}
	for i := range 500 {
		msgID, token := word(rnd.IntN(80)), word(64)
		if i%50 == 0 {
			msgID = word(300) // past the 256-byte buffer: append grows it on the heap
		}
		want := uuid.NewSHA1(apnsIDSpace, []byte(msgID+"/"+token)).String()
		if got := APNsID(msgID, token); got != want {
			t.Fatalf("APNsID(%q, %q) = %s, want %s", msgID, token, got, want)
		}
	}
	if got, want := APNsID("m1", "aa"), "0e1aefab-a62c-595e-b6c6-b41240ce8f09"; got != want {
		t.Fatalf("APNsID(m1, aa) = %s, want %s", got, want)
	}
}

func BenchmarkAPNsID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = APNsID("c2c-1234567890-42", "3f1c9a0b6d2e4f5a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a")
	}
}
