package app

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of Dev.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDevDemo runs `offpush dev` on free ports and waits for every demo push to be printed,
// then stops it as Ctrl-C would.
func TestDevDemo(t *testing.T) {
	var out, errs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Dev(ctx, []string{"--kafka-addr", "127.0.0.1:0", "--apns-addr", "127.0.0.1:0",
			"--api-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0"}, nil, &out, &errs)
	}()
	want := []string{
		`bob/iPhone    com.example.im             demo-1   "Alice: see you at 8" badge=`,
		`carol/iPhone  com.example.im.enterprise  demo-2   "Ali (Hiking): photos from Sunday [image]" badge=`,
		`carol/iPhone  com.example.im.enterprise  demo-4   "Erin: [file]" badge=`,
		`erin/iPhone   com.example.im             demo-3   "Carol (Hiking): [voice]" badge=`,
		`demo-5   "Alice: Payment received"`,
		`demo-7   "Secret — Alice: You have a new message" ext={"open":"chat/alice"}`,
	}
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(out.String(), "\npush ") < 9 {
		select {
		case err := <-done:
			t.Fatalf("dev stopped early: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("9 pushes not printed within 60s:\n%s\nstderr:\n%s", out.String(), errs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("dev: %v\nstderr:\n%s", err, errs.String())
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	var pushes []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "push ") {
			pushes = append(pushes, l)
		}
	}
	for _, skipped := range []string{"bob/iPad", "dave/", "frank/", " demo-6 ", " demo-8 "} {
		for _, l := range pushes {
			if strings.Contains(l, skipped) {
				t.Errorf("%q was pushed but must be skipped: %s", skipped, l)
			}
		}
	}
}
