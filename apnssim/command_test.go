package apnssim

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommand runs `offpush apns-sim` with a .p8 key, a CA file and a deliveries file, pushes
// with token auth and stops it with ctx.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p8 := filepath.Join(dir, "AuthKey.p8")
	if err := os.WriteFile(p8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile, deliveries := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "deliveries.jsonl")
	args := []string{"--addr", "127.0.0.1:0", "--ca-out", caFile, "--deliveries", deliveries,
		"--key", testKeyID + "=" + p8, "--team-id", testTeamID, "--quiet"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Command(ctx, args, nil, w, io.Discard); w.Close() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "apns-sim: listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hdr := http.Header{"authorization": {"bearer " + signJWT(t, key, testKeyID, testTeamID, time.Now())},
		"apns-topic": {testTopic}}
	if a := do(t, newClient(t, pool, nil), "POST", url+"/3/device/"+testToken, hdr, testBody); a.status != 200 {
		t.Fatalf("push: %d %s", a.status, a.reason)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Command did not return after ctx was cancelled")
	}
	b, _ := os.ReadFile(deliveries)
	var d Delivery
	if err := json.Unmarshal(b, &d); err != nil || d.Token != testToken || string(d.Payload) != testBody {
		t.Errorf("deliveries file %q: %v", b, err)
	}
}

// TestCommandFlags checks flag errors and -h.
func TestCommandFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string // in the error; "" for flag.ErrHelp
	}{
		{[]string{"-h"}, ""},                                       // help
		{[]string{"--key", "nokeyfile"}, "KEYID=path.p8"},          // malformed --key
		{[]string{"--key", "K=/does/not/exist.p8"}, "exist.p8"},    // unreadable key
		{[]string{"--addr", "127.0.0.1:0", "extra"}, "unexpected"}, // positional argument
		{[]string{"--latency", "-1ms"}, "--latency:"},              // negative latency
		{[]string{"--latency-jitter", "-1ms"}, "--latency-jitter"}, // negative jitter
	}
	for _, c := range cases {
		err := Command(context.Background(), c.args, nil, io.Discard, io.Discard)
		switch {
		case c.want == "" && !errors.Is(err, flag.ErrHelp):
			t.Errorf("%v: %v, want flag.ErrHelp", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want an error about %q", c.args, err, c.want)
		}
	}
}

// TestCommandLatency: --latency and --latency-jitter reach the simulator's options, and New
// starts with them.
func TestCommandLatency(t *testing.T) {
	f, err := parseCommand([]string{"--addr", "127.0.0.1:0", "--latency", "100ms", "--latency-jitter", "20ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	opts := f.options(io.Discard, io.Discard)
	if opts.Latency != 100*time.Millisecond || opts.LatencyJitter != 20*time.Millisecond {
		t.Fatalf("options latency %v jitter %v, want 100ms 20ms", opts.Latency, opts.LatencyJitter)
	}
	s := newSim(t, opts)
	if l, j := s.latency.Load(), s.jitter.Load(); l != int64(opts.Latency) || j != int64(opts.LatencyJitter) {
		t.Errorf("server latency %v jitter %v", time.Duration(l), time.Duration(j))
	}
}
