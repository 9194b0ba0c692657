package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"offpush/internal/testenv"
	"offpush/render"
	"offpush/stateapi"
)

// TestDevDemo runs `offpush dev` on free ports and waits for every demo push to be printed,
// then stops it as Ctrl-C would.
func TestDevDemo(t *testing.T) {
	var out, errs testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ops, api := testenv.FreeAddr(t), testenv.FreeAddr(t)
	go func() {
		done <- Dev(ctx, []string{"--kafka-addr", "127.0.0.1:0", "--apns-addr", "127.0.0.1:0",
			"--api-addr", api, "--ops-addr", ops}, nil, &out, &errs)
	}()
	want := []string{
		`bob/iPhone    com.example.im             demo-1   "Alice: see you at 8" badge=`,
		`carol/iPhone  com.example.im.enterprise  demo-2   "Ali (Hiking): photos from Sunday [image]" badge=`,
		`carol/iPhone  com.example.im.enterprise  demo-4   "Erin: [file]" badge=`,
		`erin/iPhone   com.example.im             demo-3   "Carol (Hiking): [voice]" badge=`,
		`demo-5   "Alice: Payment received"`,
		`demo-7   "Secret — Alice: You have a new message" ext={"open":"chat/alice"}`,
		`henry/iPhone  com.example.im             demo-9   "Alice (Book club): chapter 3 tonight?" badge=1 interruption-level=passive`,
		`ivy/iPhone    com.example.im             demo-9   "You have a new message" badge=1 sound=default`,
		`bob/VoIP      com.example.im.voip        demo-10  "call from Alice" ext={"room":"r-1"}`,
		`bob/iPhone    com.example.im             demo-5   "Alice recalled a message" badge=`,
		`sound=default subtitle=3 photos image=https://cdn.example.com/hike.jpg`,
	}
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(out.String(), "\npush ") < 13 {
		select {
		case err := <-done:
			t.Fatalf("dev stopped early: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("13 pushes not printed within 60s:\n%s\nstderr:\n%s", out.String(), errs.String())
		}
	}
	checkMetrics(t, "http://"+ops)
	checkStateAPI(t, "http://"+api)
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
	for _, skipped := range []string{"bob/iPad", "dave/", "frank/", "grace/", " demo-6 ", " demo-8 "} {
		for _, l := range pushes {
			if strings.Contains(l, skipped) {
				t.Errorf("%q was pushed but must be skipped: %s", skipped, l)
			}
		}
	}
}

// checkMetrics scrapes /metrics after the demo and checks the counts of its outcome, and that
// /healthz and /readyz answer.
func checkMetrics(t *testing.T, base string) {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, base+path); code != 200 {
			t.Errorf("%s = %d %s", path, code, body)
		}
	}
	want := []string{
		`offpush_events_consumed_total{otel_scope_name="offpush/pipeline",otel_scope_schema_url="",otel_scope_version=""} 11`,
		`offpush_pushes_total{otel_scope_name="offpush/pipeline",otel_scope_schema_url="",otel_scope_version="",outcome="sent",reason=""} 13`,
		`offpush_revokes_total{otel_scope_name="offpush/pipeline",otel_scope_schema_url="",otel_scope_version="",result="replaced"} 1`,
		`offpush_voip_pushes_total{otel_scope_name="offpush/pipeline",otel_scope_schema_url="",otel_scope_version="",outcome="sent"} 1`,
		`outcome="skipped",reason="foreground"} 5`, // bob's iPad, for each of the 5 messages to bob
		`outcome="skipped",reason="push_disabled"} 1`,
		`outcome="skipped",reason="muted"} 2`, // frank's group, grace's quiet hours
		`outcome="skipped",reason="empty_custom"} 1`,
		`outcome="skipped",reason="no_push_flag"} 1`,
		`offpush_apns_request_duration_seconds_count{`,
		`offpush_kafka_consumer_lag{`,
		`offpush_apns_certificate_expiry_days{busi_id="2382"`,
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body = get(t, base+"/metrics")
		missing := 0
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	t.Logf("/metrics:\n%s", body)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkStateAPI reads bob's devices through the state API dev serves (token "dev").
func checkStateAPI(t *testing.T, base string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/users/bob/devices", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("without a token: %v %v, want 401", resp.StatusCode, err)
	}
	req.Header.Set("Authorization", "Bearer dev")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Count(string(b), `"token"`) != 3 || !strings.Contains(string(b), `"state":"foreground"`) ||
		strings.Count(string(b), `"kind":"voip"`) != 1 {
		t.Errorf("GET bob's devices = %d %s, want his three devices, one in the foreground, one for VoIP", resp.StatusCode, b)
	}
	// Explain demo-1 for bob: his iPhone got it, his iPad (foreground) did not.
	req, _ = http.NewRequest("GET", base+"/v1/users/bob/pushes/demo-1", nil)
	req.Header.Set("Authorization", "Bearer dev")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep stateapi.PushReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != 200 || len(rep.Devices) != 3 {
		t.Fatalf("GET bob's pushes of demo-1 = %d %+v %v", resp.StatusCode, rep, err)
	}
	for _, d := range rep.Devices {
		want := map[string]string{strings.Repeat("b0", 32): "sent", strings.Repeat("b1", 32): "none", strings.Repeat("b2", 32): "none"}[d.Token]
		if d.State != want || d.APNsID != render.APNsID("demo-1", d.Token) {
			t.Errorf("demo-1 to %s: %+v, want %s", d.Token[:4], d, want)
		}
	}
}
