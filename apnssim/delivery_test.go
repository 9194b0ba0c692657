package apnssim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"offpush/internal/testenv"
)

// TestAppendDelivery checks the hand-written JSON line against encoding/json.
func TestAppendDelivery(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	cases := []struct {
		name string
		d    Delivery
	}{
		{"all headers", Delivery{Token: testToken, Payload: json.RawMessage(testBody), ReceivedAt: at,
			Headers: Headers{"com.example.im", "alert", "10", "0", "m-1", "123E4567-E89B-12D3-A456-426655440000"}}},
		{"no optional headers", Delivery{Token: testToken, Payload: json.RawMessage(`{"aps":{}}`), ReceivedAt: at,
			Headers: Headers{Topic: "t"}}},
		{"header needing escapes", Delivery{Token: testToken, Payload: json.RawMessage(`{"aps":{}}`), ReceivedAt: at,
			Headers: Headers{Topic: "t", CollapseID: "a\"b\\c<é>\x01"}}},
	}
	for _, c := range cases {
		got := appendDelivery(nil, &c.d)
		want, _ := json.Marshal(c.d)
		if string(got) != string(want)+"\n" {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}

// TestAppendDeliveryMultiLinePayload checks that a pretty-printed payload stays on one line.
func TestAppendDeliveryMultiLinePayload(t *testing.T) {
	d := Delivery{Token: testToken, Payload: json.RawMessage("{\n  \"aps\": {\"alert\": \"a b\"}\n}")}
	line := appendDelivery(nil, &d)
	if bytes.Count(line, []byte("\n")) != 1 || !bytes.Contains(line, []byte(`"payload":{"aps":{"alert":"a b"}}`)) {
		t.Errorf("line %q", line)
	}
}

// TestHasAPSObject checks the top-level "aps" scan on valid JSON documents.
func TestHasAPSObject(t *testing.T) {
	cases := []struct {
		doc  string
		want bool
	}{
		{`{"aps":{}}`, true},                                    // minimal
		{` { "aps" : { "alert" : "x" } } `, true},               // whitespace everywhere
		{`{"a":1,"b":[1,{"aps":2}],"c":"x\"y","aps":{}}`, true}, // aps after skipped members
		{`{"x":{"aps":{}}}`, false},                             // nested aps does not count
		{`{"aps":"x"}`, false},                                  // aps not an object
		{`{"aps":null}`, false},                                 // aps null
		{`{"apsx":{}}`, false},                                  // another key
		{`{}`, false},                                           // empty object
		{`[{"aps":{}}]`, false},                                 // not an object
		{`"aps"`, false},                                        // a string
	}
	for _, c := range cases {
		if !json.Valid([]byte(c.doc)) {
			t.Fatalf("test case %s is not valid JSON", c.doc)
		}
		if got := hasAPSObject([]byte(c.doc)); got != c.want {
			t.Errorf("hasAPSObject(%s) = %v, want %v", c.doc, got, c.want)
		}
	}
}

// TestDeliveriesWriterAndCap checks the Deliveries writer (every accepted notification, one
// line each, flushed by Close), MaxKept (counted beyond) and WaitDeliveries.
func TestDeliveriesWriterAndCap(t *testing.T) {
	var out testenv.SyncBuffer
	s := newSim(t, Options{Deliveries: &out, MaxKept: 2})
	c := newClient(t, s.CertPool(), mustClientCert(t, testTopic))
	do(t, c, "POST", s.URL()+"/3/device/"+testToken, nil, `{"aps":`) // rejected: not written
	for range 3 {
		do(t, c, "POST", s.URL()+"/3/device/"+testToken, http.Header{"apns-priority": {"10"}}, testBody)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitDeliveries(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || len(s.Deliveries()) != 2 || s.Stats().Accepted != 3 {
		t.Fatalf("%d lines, %d kept, %d accepted; want 3, 2, 3", len(lines), len(s.Deliveries()), s.Stats().Accepted)
	}
	var d Delivery
	if err := json.Unmarshal([]byte(lines[2]), &d); err != nil || string(d.Payload) != testBody || d.Headers.Priority != "10" {
		t.Errorf("line %s: %+v %v", lines[2], d, err)
	}
}

// TestWaitDeliveriesTimeout checks that WaitDeliveries gives up with ctx.
func TestWaitDeliveriesTimeout(t *testing.T) {
	s := newSim(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitDeliveries(ctx, 1); err == nil {
		t.Error("WaitDeliveries returned nil without deliveries")
	}
}

// TestJournalChunks checks that kept lines survive the move to a new chunk intact.
func TestJournalChunks(t *testing.T) {
	var j journal
	d := Delivery{Token: testToken, Payload: json.RawMessage(bigPayload(1000)), Headers: Headers{Topic: testTopic}}
	const n = 3000 // about 3 MB: three chunks
	for range n {
		j.add(appendDelivery(nil, &d))
	}
	got, err := decodeChunks(j.snapshot())
	if err != nil || len(got) != n || len(j.chunks) < 3 {
		t.Fatalf("%d decoded in %d chunks, error %v; want %d", len(got), len(j.chunks), err, n)
	}
	if string(got[n-1].Payload) != string(d.Payload) {
		t.Error("the last line does not hold the payload")
	}
}
