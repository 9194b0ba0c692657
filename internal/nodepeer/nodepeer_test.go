package nodepeer

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
)

const device = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestPeer checks the peer answers like APNs and counts what it delivered and refused.
func TestPeer(t *testing.T) {
	p := Start(t)
	var protos http.Protocols
	protos.SetHTTP2(true)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.CertPool()}, Protocols: &protos}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	post := func(path, body string) (int, string, string) {
		t.Helper()
		resp, err := client.Post(p.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s, want HTTP/2", resp.Proto)
		}
		return resp.StatusCode, resp.Header.Get("Apns-Id"), string(b)
	}
	if code, id, _ := post("/3/device/"+device, `{"aps":{},"t":"`+device+`"}`); code != 200 || len(id) != 36 {
		t.Fatalf("push: %d apns-id %q, want 200 with an apns-id", code, id)
	}
	if code, _, body := post("/3/device/"+device, `{"aps":`); code != 400 || body != `{"reason":"BadPayload"}` {
		t.Fatalf("bad payload: %d %s", code, body)
	}
	if code, _, _ := post("/3/device/xyz", `{}`); code != 400 {
		t.Fatalf("bad path: %d", code)
	}
	if err := p.Configure(Config{ErrorEvery: 1, ErrorStatus: 410, ErrorReason: "Unregistered"}); err != nil {
		t.Fatal(err)
	}
	if code, _, body := post("/3/device/"+device, `{}`); code != 410 || body != `{"reason":"Unregistered"}` {
		t.Fatalf("scripted error: %d %s", code, body)
	}
	if err := p.Configure(Config{Settings: Settings{"bogus": 1}}); err == nil {
		t.Error("Configure with an unknown setting succeeded")
	}
	s, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Delivered[device] != 1 || s.Answered[device] != 2 || s.Received[device] != 3 || s.Bad != 2 || s.Sessions != 1 {
		t.Errorf("stats %+v, want 1 delivered, 2 error answers, 3 received, 2 bad, 1 session", s)
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	if s, _ := p.Stats(); s.Streams != 0 || len(s.Delivered) != 0 {
		t.Errorf("after Reset: %+v", s)
	}
}
