package apnssim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// control sends one control request and returns the status and body.
func control(t *testing.T, c *http.Client, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestControlAPI drives the simulator through its HTTP control endpoints only.
func TestControlAPI(t *testing.T) {
	s := newSim(t, Options{})
	push := newClient(t, s.CertPool(), mustClientCert(t, testTopic))
	ctl := newClient(t, s.CertPool(), nil) // the control API needs no credentials
	device := s.URL() + "/3/device/" + testToken
	post := func(path, body string) {
		t.Helper()
		if st, b := control(t, ctl, "POST", s.URL()+path, body); st != http.StatusNoContent {
			t.Fatalf("POST %s: %d %s", path, st, b)
		}
	}

	post("/sim/fault", `{"status":503,"reason":"ServiceUnavailable","count":2}`)
	for i, want := range []int{503, 503, 200} {
		if a := do(t, push, "POST", device, nil, testBody); a.status != want {
			t.Errorf("push %d after fault: %d, want %d", i, a.status, want)
		}
	}
	post("/sim/fault", `{"status":429,"reason":"TooManyRequests","count":1,"retryAfter":7}`)
	if a := do(t, push, "POST", device, nil, testBody); a.status != 429 || a.header.Get("Retry-After") != "7" {
		t.Errorf("429 fault: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	post("/sim/unregister", `{"token":"`+testToken+`","timestamp":1700000000123}`)
	if a := do(t, push, "POST", device, nil, testBody); a.status != 410 || a.timestamp != 1700000000123 {
		t.Errorf("after unregister: %d %s %d", a.status, a.reason, a.timestamp)
	}
	post("/sim/latency", `{"ms":120}`)
	start := time.Now()
	do(t, push, "POST", device, nil, testBody)
	if d := time.Since(start); d < 120*time.Millisecond {
		t.Errorf("latency: answered after %v", d)
	}
	post("/sim/latency", `{"ms":0.5,"jitterMs":20}`)
	if l, j := s.latency.Load(), s.jitter.Load(); l != int64(500*time.Microsecond) || j != int64(20*time.Millisecond) {
		t.Errorf("after {ms:0.5, jitterMs:20}: latency %v, jitter %v", time.Duration(l), time.Duration(j))
	}
	post("/sim/latency", `{"ms":0}`)
	if l, j := s.latency.Load(), s.jitter.Load(); l != 0 || j != 0 {
		t.Errorf("after {ms:0}: latency %v, jitter %v, want both 0", time.Duration(l), time.Duration(j))
	}

	var st Stats
	_, b := control(t, ctl, "GET", s.URL()+"/sim/stats", "")
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	want := map[string]int64{"ServiceUnavailable": 2, "TooManyRequests": 1, "Unregistered": 2}
	if st.Requests != 6 || st.Accepted != 1 || !equalCounts(st.Rejected, want) || st.Connections != 2 {
		t.Errorf("stats %s", b)
	}
	for _, key := range []string{`"requests"`, `"accepted"`, `"rejected"`, `"connections"`, `"maxConcurrent"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("stats %s lack %s", b, key)
		}
	}

	post("/sim/reset", "")
	if a := do(t, push, "POST", device, nil, testBody); a.status != 200 {
		t.Errorf("after reset: %d %s, want 200 (no unregistered token, no fault)", a.status, a.reason)
	}
	if st := s.Stats(); st.Requests != 1 || st.Accepted != 1 || len(st.Rejected) != 0 {
		t.Errorf("after reset: %+v, want the counters restarted", st)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestControlErrors checks that bad control requests are refused and change nothing.
func TestControlErrors(t *testing.T) {
	s := newSim(t, Options{})
	ctl := newClient(t, s.CertPool(), nil)
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/sim/fault", `{"status":503,`, 400},             // malformed JSON
		{"POST", "/sim/fault", `{"status":200,"count":1}`, 400},   // a fault must be an error status
		{"POST", "/sim/fault", `{"statuz":503}`, 400},             // unknown field
		{"POST", "/sim/unregister", `{}`, 400},                    // token required
		{"POST", "/sim/latency", `{"ms":100,"jitterMs":-1}`, 400}, // negative jitter
		{"POST", "/sim/latency", `{"ms":-5}`, 400},                // negative latency
		{"GET", "/sim/fault", "", 404},                            // wrong method
		{"POST", "/sim/nothing", "{}", 404},                       // unknown endpoint
	}
	for _, c := range cases {
		if st, b := control(t, ctl, c.method, s.URL()+c.path, c.body); st != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, st, b, c.status)
		}
	}
	if s.faultsLeft.Load() != 0 || s.unregisteredCount.Load() != 0 || s.latency.Load() != 0 || s.jitter.Load() != 0 {
		t.Error("a refused control request changed the state")
	}
}

// TestDeliveriesEndpoint checks GET /sim/deliveries: one JSON line per accepted notification.
func TestDeliveriesEndpoint(t *testing.T) {
	s := newSim(t, Options{})
	push := newClient(t, s.CertPool(), mustClientCert(t, testTopic))
	payloads := []string{testBody, `{"aps":{"alert":"a \"quoted\" <b> & é"},"ext":[1,{"x":null}]}`}
	for _, p := range payloads {
		hdr := http.Header{"apns-push-type": {"alert"}, "apns-priority": {"10"}, "apns-collapse-id": {"m-1"}}
		if a := do(t, push, "POST", s.URL()+"/3/device/"+testToken, hdr, p); a.status != 200 {
			t.Fatalf("push: %d %s", a.status, a.reason)
		}
	}
	_, body := control(t, newClient(t, s.CertPool(), nil), "GET", s.URL()+"/sim/deliveries", "")
	sc := bufio.NewScanner(bytes.NewReader(body))
	var i int
	for ; sc.Scan(); i++ {
		var d Delivery
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %d %s: %v", i, sc.Bytes(), err)
		}
		if d.Token != testToken || string(d.Payload) != payloads[i] || d.Headers.Topic != testTopic ||
			d.Headers.CollapseID != "m-1" || d.Headers.ID == "" || time.Since(d.ReceivedAt) > time.Minute {
			t.Errorf("line %d = %+v", i, d)
		}
	}
	if i != len(payloads) {
		t.Errorf("%d lines, want %d", i, len(payloads))
	}
}
