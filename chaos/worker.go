package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"offpush/internal/testenv"
)

// Worker is one `offpush run` child process with its ports and its last /metrics scrape.
type Worker struct {
	Name    string
	OpsAddr string
	APIAddr string
	Proc    *Proc

	mu      sync.Mutex
	metrics Metrics // last successful scrape
	scrape  string  // its text, for the secrets check
}

// workerConfig is the YAML of one worker: everything but the secrets, which go in env.
func (h *Harness) workerConfig(opsAddr, apiAddr string) string {
	o := h.opts
	return fmt.Sprintf(`kafka:
  brokers: [%q]
  sessionTimeout: 6s
  commitInterval: 200ms
redis:
  addrs: [%s]
apns:
  host: %q
  caFile: %q
  timeout: 5s
  maxAttempts: %d
  maxElapsed: %s
  certificates:
    - id: %d
      bundleId: %s
      environment: production
      p12File: %q
    - id: %d
      bundleId: %s
      environment: production
      keyFile: %q
      keyId: %s
      teamId: %s
pipeline:
  shutdownGrace: %s
api:
  addr: %q
ops:
  addr: %q
log:
  level: info
  format: json
`, h.Kafka.Brokers[0], quoteList(h.redisAddrs()), h.Sim.WorkerURL(), h.Sim.CAFile, o.MaxAttempts, o.MaxElapsed,
		P12BusiID, P12Topic, h.creds.p12File, P8BusiID, P8Topic, h.creds.p8File, h.creds.keyID, h.creds.teamID,
		o.ShutdownGrace, apiAddr, opsAddr)
}

// quoteList is a YAML flow sequence of quoted strings, without its brackets.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// StartWorker starts one more `offpush run` and waits until its ops endpoint answers.
func (h *Harness) StartWorker() *Worker {
	h.t.Helper()
	h.workerSeq++
	name := "worker-" + strconv.Itoa(h.workerSeq)
	w := &Worker{Name: name, OpsAddr: h.addr(), APIAddr: h.addr()}
	cfgPath := filepath.Join(h.dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(h.workerConfig(w.OpsAddr, w.APIAddr)), 0o600); err != nil {
		h.t.Fatal(err)
	}
	env := childEnv([]string{
		fmt.Sprintf("OFFPUSH_APNS_CERTIFICATES_%d_P12PASSWORD=%s", P12BusiID, h.creds.p12Password),
		"OFFPUSH_API_TOKENS=" + h.creds.apiToken,
	})
	p, err := startProc(h.dir, name, h.bin, []string{"run", "--config", cfgPath}, env)
	if err != nil {
		h.t.Fatal(err)
	}
	w.Proc = p
	h.workers = append(h.workers, w)
	h.rebalancing()
	h.eventually(name+" serves /healthz", 30*time.Second, func() bool {
		if !p.Running() {
			h.t.Fatalf("%s exited at start:\n%s", name, p.Logs())
		}
		return httpGet(w.OpsAddr, "/healthz") == nil
	})
	h.logf("%s started (ops %s, api %s)", name, w.OpsAddr, w.APIAddr)
	return w
}

// addr is a free loopback address.
func (h *Harness) addr() string { return testenv.FreeAddr(h.t) }

// Kill9 scrapes w's metrics, kills it with SIGKILL and records the dedupe keys pending
// (claimed, not finished) right after as in flight at the crash.
func (h *Harness) Kill9(w *Worker) {
	h.t.Helper()
	w.Scrape()
	h.MarkMetricsIncomplete()
	h.mu.Lock()
	h.kills = append(h.kills, time.Now())
	h.mu.Unlock()
	w.Proc.Kill()
	h.rebalancing()
	n := h.snapshotInFlight("kill -9 " + w.Name)
	h.logf("%s killed with SIGKILL; %d pushes were in flight", w.Name, n)
}

// Term sends SIGTERM to w and waits up to limit for it to exit; it returns the exit code and
// how long the drain took.
func (h *Harness) Term(w *Worker, limit time.Duration) (int, time.Duration) {
	h.t.Helper()
	w.Scrape()
	h.MarkMetricsIncomplete()
	start := time.Now()
	ok := w.Proc.Stop(limit) // SIGTERM, SIGKILL after limit
	took := time.Since(start)
	code := w.Proc.ExitCode()
	h.rebalancing()
	if !ok {
		h.t.Errorf("%s still running %v after SIGTERM: killed", w.Name, limit)
		code = -1
	}
	n := h.snapshotInFlight("SIGTERM " + w.Name)
	h.logf("%s exited %d, %v after SIGTERM; %d pushes left pending", w.Name, code, took.Round(time.Millisecond), n)
	return code, took
}

// Scrape reads w's /metrics and keeps it as w's latest; errors (w is down) keep the previous.
func (w *Worker) Scrape() {
	text, err := httpGetBody(w.OpsAddr, "/metrics")
	if err != nil {
		return
	}
	m := parseMetrics(text)
	w.mu.Lock()
	w.metrics, w.scrape = m, text
	w.mu.Unlock()
}

// Metrics returns w's latest scrape and its text.
func (w *Worker) Metrics() (Metrics, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.metrics, w.scrape
}

func httpGet(addr, path string) error {
	_, err := httpGetBody(addr, path)
	return err
}

var opsClient = &http.Client{Timeout: 5 * time.Second}

func httpGetBody(addr, path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	resp, err := opsClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), nil
}

// Metrics are the pipeline counters the ledger reads from /metrics: pushes by outcome and
// reason (offpush_pushes_total), dead-letter records by reason and recalls per device by
// result (offpush_revokes_total).
type Metrics struct {
	Pushes  map[string]float64 // "outcome/reason" → count
	DLQ     map[string]float64 // reason → records
	Revokes map[string]float64 // result (replaced, prevented) → devices
}

// parseMetrics reads the Prometheus text format lines the ledger needs.
func parseMetrics(text string) Metrics {
	m := Metrics{Pushes: map[string]float64{}, DLQ: map[string]float64{}, Revokes: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, value, ok := parseSample(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case "offpush_pushes_total":
			m.Pushes[labels["outcome"]+"/"+labels["reason"]] += value
		case "offpush_dlq_records_total":
			m.DLQ[labels["reason"]] += value
		case "offpush_revokes_total":
			m.Revokes[labels["result"]] += value
		}
	}
	return m
}

// parseSample splits `name{k="v",…} value` (label values without escaped quotes).
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	head, val, found := strings.Cut(line, " ")
	if !found {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
	if err != nil {
		return "", nil, 0, false
	}
	name, rest, _ := strings.Cut(head, "{")
	labels = map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = strings.Trim(v, `"`)
		}
	}
	return name, labels, v, true
}
