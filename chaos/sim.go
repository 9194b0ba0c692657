package chaos

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"offpush/internal/testenv"
)

// Sim is the APNs simulator child process (`offpush apns-sim`) and a client of its control
// API. Workers reach it through Proxy.
type Sim struct {
	URL    string // the simulator's own https URL (control API)
	CAFile string // its TLS certificate, for the workers' apns.caFile
	Proc   *Proc
	Proxy  *proxy
	client *http.Client
}

// startSim starts `offpush apns-sim` accepting JWTs of the .p8 key keyID (team teamID).
func startSim(bin, dir, keyID, keyFile, teamID string) (*Sim, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Sim{CAFile: filepath.Join(dir, "sim-ca.pem")}
	args := []string{"apns-sim", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--ca-out", s.CAFile,
		"--key", keyID + "=" + keyFile, "--team-id", teamID, "--quiet"}
	if s.Proc, err = startProc(dir, "apns-sim", bin, args, childEnv(nil)); err != nil {
		return nil, err
	}
	if s.URL, err = waitListening(s.Proc); err != nil {
		s.Proc.Kill()
		return nil, err
	}
	if s.client, err = tlsClient(s.CAFile); err != nil {
		s.Proc.Kill()
		return nil, err
	}
	if s.Proxy, err = startProxy(strings.TrimPrefix(s.URL, "https://")); err != nil {
		s.Proc.Kill()
		return nil, err
	}
	return s, nil
}

// waitListening reads the simulator's first stdout line, "apns-sim: listening on URL".
func waitListening(p *Proc) (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := os.ReadFile(p.StdoutPath)
		if line, _, ok := strings.Cut(string(out), "\n"); ok {
			if _, url, found := strings.Cut(line, "listening on "); found {
				return strings.TrimSpace(url), nil
			}
			return "", fmt.Errorf("apns-sim printed %q", line)
		}
		if !p.Running() {
			return "", fmt.Errorf("apns-sim exited:\n%s", p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("apns-sim did not say where it listens:\n%s", p.Logs())
}

func tlsClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// WorkerURL is the apns.host the workers use: the proxy in front of the simulator.
func (s *Sim) WorkerURL() string { return "https://" + s.Proxy.Addr() }

// Fault makes the next count provider requests answer status with reason (count 0 clears);
// retryAfter (seconds) is sent as Retry-After.
func (s *Sim) Fault(status int, reason string, count, retryAfter int) error {
	return s.post("/sim/fault", map[string]any{"status": status, "reason": reason, "count": count, "retryAfter": retryAfter})
}

// Latency delays every provider answer by d.
func (s *Sim) Latency(d time.Duration) error {
	return s.post("/sim/latency", map[string]any{"ms": d.Milliseconds()})
}

func (s *Sim) post(path string, body any) error {
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("simulator %s: %s %s", path, resp.Status, msg)
	}
	return nil
}

// Delivery is one notification the simulator accepted, as the ledger needs it.
type Delivery struct {
	Token   string `json:"token"`
	Headers struct {
		CollapseID string `json:"apns-collapse-id"`
		Topic      string `json:"apns-topic"`
		ID         string `json:"apns-id"`
	} `json:"headers"`
	Payload struct {
		APS struct {
			Badge             *int64          `json:"badge"`
			Alert             json.RawMessage `json:"alert"` // a string, or an object with body
			Sound             json.RawMessage `json:"sound"`
			InterruptionLevel string          `json:"interruption-level"`
		} `json:"aps"`
	} `json:"payload"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// Body is the notification's alert body ("" when none).
func (d *Delivery) Body() string {
	var body string
	if json.Unmarshal(d.Payload.APS.Alert, &body) == nil {
		return body
	}
	var alert struct {
		Body string `json:"body"`
	}
	_ = json.Unmarshal(d.Payload.APS.Alert, &alert)
	return alert.Body
}

// Deliveries reads every notification accepted so far (GET /sim/deliveries).
func (s *Sim) Deliveries() ([]Delivery, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/sim/deliveries", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("simulator deliveries: %w", err)
	}
	defer resp.Body.Close()
	var out []Delivery
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var d Delivery
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("simulator delivery %q: %w", sc.Text(), err)
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// Close stops the proxy and the simulator.
func (s *Sim) Close() {
	if s.Proxy != nil {
		s.Proxy.Close()
	}
	if s.Proc != nil {
		s.Proc.Kill()
	}
}

// childEnv is the harness's environment without OFFPUSH_* and OTEL_* variables (a
// developer's settings must not leak into a worker), plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OFFPUSH_") || strings.HasPrefix(kv, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// SimStats are the simulator's counters (GET /sim/stats).
type SimStats struct {
	Requests int64            `json:"requests"`
	Accepted int64            `json:"accepted"`
	Rejected map[string]int64 `json:"rejected"`
}

// Stats reads the simulator's counters.
func (s *Sim) Stats() (SimStats, error) {
	var st SimStats
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/sim/stats", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
