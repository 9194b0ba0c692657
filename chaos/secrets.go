package chaos

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// secret is one credential to look for, by name.
type secret struct{ name, value string }

// secrets lists the run's credentials: the .p12 password, the API token, and the .p8 key's
// PEM body, whole and line by line.
func (h *Harness) secrets() []secret {
	out := []secret{{"p12 password", h.creds.p12Password}, {"API token", h.creds.apiToken}}
	raw, err := os.ReadFile(h.creds.p8File)
	if err != nil {
		h.t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		h.t.Fatalf("%s: no PEM block", h.creds.p8File)
		return nil
	}
	body := strings.TrimSpace(string(raw))
	lines := strings.Split(body, "\n")
	for _, l := range lines[1 : len(lines)-1] { // between BEGIN and END
		if l = strings.TrimSpace(l); len(l) >= 16 {
			out = append(out, secret{"p8 key line", l})
		}
	}
	out = append(out, secret{"p8 key body", strings.Join(lines[1:len(lines)-1], "")}, secret{"p8 key bytes", string(block.Bytes)})
	return out
}

// CheckSecrets uses the state API with the right and a wrong token, then looks for every
// secret in the children's logs, the API answers, the workers' /metrics and the dead letters'
// keys and headers; finding one fails the test.
func (h *Harness) CheckSecrets() {
	h.t.Helper()
	sources := map[string]string{}
	for _, w := range h.workers {
		if w.Proc.Running() {
			h.callAPI(w, sources)
			w.Scrape()
		}
		_, text := w.Metrics()
		sources[w.Name+" /metrics"] = text
	}
	for _, p := range h.procs() {
		sources[p.Name+" log"] = p.Logs()
	}
	sources["dead letters"] = dlqText(h)
	found := 0
	for _, s := range h.secrets() {
		for where, text := range sources {
			if strings.Contains(text, s.value) {
				h.t.Errorf("the %s appears in %s", s.name, where)
				found++
			}
		}
	}
	h.logf("secrets check: %d secrets looked for in %d sources, %d found", len(h.secrets()), len(sources), found)
}

// procs lists every child process of the run.
func (h *Harness) procs() []*Proc {
	out := []*Proc{h.Sim.Proc}
	if h.Redis != nil && h.Redis.Proc() != nil {
		out = append(out, h.Redis.Proc())
	}
	for _, w := range h.workers {
		out = append(out, w.Proc)
	}
	return out
}

// callAPI reads a user's devices with the API token (200) and with a wrong one (401), keeping
// both answers as sources.
func (h *Harness) callAPI(w *Worker, sources map[string]string) {
	user := h.Workload.Users[0].ID
	for _, tc := range []struct {
		token string
		want  int
	}{{h.creds.apiToken, http.StatusOK}, {"wrong-" + h.creds.apiToken[:8], http.StatusUnauthorized}} {
		status, body, err := apiGet(w.APIAddr, "/v1/users/"+user+"/devices", tc.token)
		if err != nil {
			h.t.Errorf("state API of %s: %v", w.Name, err)
			continue
		}
		if status != tc.want {
			h.t.Errorf("state API of %s answered %d, want %d: %s", w.Name, status, tc.want, body)
		}
		sources[fmt.Sprintf("%s state API answer %d", w.Name, status)] = body
	}
}

func apiGet(addr, path, token string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := opsClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// dlqText is every dead letter's key and headers, one record per line.
func dlqText(h *Harness) string {
	var b strings.Builder
	for _, m := range h.DeadLetters() {
		b.Write(m.Key)
		for _, hd := range m.Headers {
			fmt.Fprintf(&b, " %s=%s", hd.Key, hd.Value)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
