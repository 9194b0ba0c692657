package pipeline_test

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/apnssim"
	"offpush/dlq"
	"offpush/event"
	"offpush/presence"
)

func c2c(id, to, text string) string {
	return `{"id":"` + id + `","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["` + to + `"],"elems":[{"type":"text","text":"` + text + `"}]}`
}

// TestRetryThenDelivered: APNs answers 503 twice, then accepts; the push arrives once.
func TestRetryThenDelivered(t *testing.T) {
	e := newEnv(t, 1)
	b1 := token()
	e.device("bob", b1, 2382, 0)
	e.sim.InjectFault(503, "ServiceUnavailable", 2)
	w := e.start(e.opts())
	e.publish(c2c("r1", "bob", "hello"))
	got := e.waitDeliveries(1)
	if got[0].Token != b1 {
		t.Fatalf("delivered to %s", got[0].Token)
	}
	if st := e.sim.Stats(); st.Requests != 3 || st.Rejected["ServiceUnavailable"] != 2 {
		t.Errorf("simulator saw %+v, want 3 requests of which 2 rejected", st)
	}
	eventually(t, "2 retries counted", func() bool {
		return w.counter(t, "offpush.apns.retries", func(attrs) string { return "" })[""] == 2
	})
}

// TestTooManyRequestsWaitsRetryAfter: a 429 with Retry-After delays the retry by that long,
// not by the (shorter) exponential backoff.
func TestTooManyRequestsWaitsRetryAfter(t *testing.T) {
	e := newEnv(t, 1)
	e.device("bob", token(), 2382, 0)
	e.sim.SetFault(faultTooMany(1, 1))
	o := e.opts()
	o.InitialBackoff = time.Millisecond
	e.start(o)
	published := time.Now()
	e.publish(c2c("r2", "bob", "hello"))
	got := e.waitDeliveries(1)
	if st := e.sim.Stats(); st.Requests != 2 || st.Rejected["TooManyRequests"] != 1 {
		t.Fatalf("simulator saw %+v, want one 429 then success", st)
	}
	// With a 1ms backoff only Retry-After (1s) can put a second between publish and delivery.
	if d := got[0].ReceivedAt.Sub(published); d < time.Second {
		t.Errorf("retried %v after publishing, want at least the 1s Retry-After", d)
	}
}

func faultTooMany(count, retryAfter int) apnssim.Fault {
	return apnssim.Fault{Status: 429, Reason: "TooManyRequests", Count: count, RetryAfter: retryAfter}
}

// TestOutageGoesToDLQAndPartitionMovesOn: an outage longer than the retry budget writes a DLQ
// record with every header, commits the event's offset, and the next event is delivered.
func TestOutageGoesToDLQAndPartitionMovesOn(t *testing.T) {
	e := newEnv(t, 1)
	b1 := token()
	e.device("bob", b1, 2382, 0)
	e.sim.InjectFault(503, "ServiceUnavailable", 4) // exactly MaxAttempts
	e.start(e.opts())
	e.publish(c2c("o1", "bob", "lost in the outage"))
	recs := e.dlqRecords(1)
	h := headers(recs[0])
	if h[dlq.HeaderReason] != "apns_retry_exhausted" || h[dlq.HeaderAttempts] != "4" ||
		!strings.Contains(h[dlq.HeaderError], "503 ServiceUnavailable") || h[dlq.HeaderReplays] != "0" ||
		h[dlq.HeaderSource] != e.topic+"/0/0" || h[dlq.HeaderFailedAt] == "" {
		t.Errorf("DLQ headers = %v", h)
	}
	m, err := event.Decode(recs[0].Value)
	if err != nil || m.ID != "o1" || len(m.Recipients) != 1 || m.Recipients[0] != "bob" {
		t.Errorf("DLQ value %s: %v", recs[0].Value, err)
	}
	e.publish(c2c("o2", "bob", "after the outage"))
	got := e.waitDeliveries(1)
	if got[0].Headers.CollapseID != "o2" {
		t.Errorf("delivered %s, want o2", got[0].Headers.CollapseID)
	}
	eventually(t, "both offsets committed", func() bool { return e.committed()[0] == 2 })
}

// TestTokenDead: 410 removes the token from Redis after one request; nothing goes to the DLQ.
func TestTokenDead(t *testing.T) {
	e := newEnv(t, 1)
	dead, alive := token(), token()
	e.device("bob", dead, 2382, 0)
	e.device("bob", alive, 2382, 0)
	e.sim.MarkUnregistered(dead, time.Now())
	w := e.start(e.opts())
	e.publish(c2c("t1", "bob", "hello"))
	e.waitDeliveries(1)
	eventually(t, "dead token removed", func() bool {
		devs, err := e.store.Devices(context.Background(), "bob")
		return err == nil && len(devs) == 1 && devs[0].Token == alive
	})
	if st := e.sim.Stats(); st.Requests != 2 || st.Rejected["Unregistered"] != 1 {
		t.Errorf("simulator saw %+v: a dead token must not be retried", st)
	}
	eventually(t, "token_removed counted", func() bool { return w.pushes(t)["token_removed/Unregistered"] == 1 })
	// Support still sees the removed token, with what happened to the push.
	eventually(t, "explain: token_removed and sent", func() bool {
		rs, err := e.store.Explain(context.Background(), "bob", "t1")
		if err != nil || len(rs) != 2 {
			return false
		}
		byTok := map[string]presence.PushRecord{rs[0].Token: rs[0], rs[1].Token: rs[1]}
		d, a := byTok[dead], byTok[alive]
		return d.State == presence.PushTokenRemoved && !d.Registered && d.Attempts == 1 &&
			a.State == presence.PushSent && a.Registered && a.Badge == 1
	})
	if n := w.counter(t, "offpush.dlq.records", func(attrs) string { return "" })[""]; n != 0 {
		t.Errorf("%d DLQ records, want none", n)
	}
}

// TestTokenDeadTwice: two pushes of different conversations are in flight to one dead token
// at once; the first 410 removes it, the second finds it gone and is counted as
// token_already_removed, not as removed again nor as re-registered.
func TestTokenDeadTwice(t *testing.T) {
	e := newEnv(t, 1)
	dead := token()
	e.device("bob", dead, 2382, 0)
	e.sim.MarkUnregistered(dead, time.Now().Add(time.Second)) // after the registration
	e.sim.SetLatency(200 * time.Millisecond)                  // both sends are in flight before either answer
	w := e.start(e.opts())
	e.publish(c2c("d1", "bob", "one"), c2c("d2", "bob", "two")) // keys k0, k1: not ordered
	eventually(t, "both pushes counted", func() bool {
		p := w.pushes(t)
		return p["token_removed/Unregistered"]+p["skipped/token_already_removed"] == 2
	})
	p := w.pushes(t)
	if p["token_removed/Unregistered"] != 1 || p["skipped/token_already_removed"] != 1 || p["skipped/token_reregistered"] != 0 {
		t.Errorf("pushes %v: want one token_removed and one token_already_removed", p)
	}
	if st := e.sim.Stats(); st.Rejected["Unregistered"] != 2 {
		t.Errorf("simulator saw %+v, want two 410s", st)
	}
}

// TestPoisonInputNeverStallsPartition: malformed JSON, wrong types, invalid UTF-8 and an
// unknown certificate go to the DLQ with their reason; the good event behind them in the same
// partition is delivered and every offset is committed.
func TestPoisonInputNeverStallsPartition(t *testing.T) {
	e := newEnv(t, 1)
	good, orphan := token(), token()
	e.device("bob", good, 2382, 0)
	e.device("hank", orphan, 9999, 0)
	e.start(e.opts())
	e.publish(
		`{"id":`,
		`{"id":"p2","chatType":"c2c","sender":{"userId":"alice"},"recipients":"bob","elems":[{"type":"text"}]}`,
		[]byte("{\"id\":\"p3\xff\"}"),
		c2c("p4", "hank", "to a device of an unknown certificate"),
		c2c("p5", "bob", "still delivered"),
	)
	got := e.waitDeliveries(1)
	if got[0].Token != good {
		t.Fatalf("delivered to %s", got[0].Token)
	}
	recs := e.dlqRecords(4)
	reasons := map[string]int{}
	for _, r := range recs {
		reasons[headers(r)[dlq.HeaderReason]]++
	}
	if reasons["invalid_event"] != 3 || reasons["unknown_certificate"] != 1 {
		t.Errorf("DLQ reasons = %v", reasons)
	}
	errs := map[string]string{}
	for _, r := range recs {
		if h := headers(r); h[dlq.HeaderReason] == "invalid_event" {
			errs[string(r.Value)] = h[dlq.HeaderError] // the original bytes, as published
		}
	}
	for value, want := range map[string]string{
		`{"id":`: "malformed JSON",
		`{"id":"p2","chatType":"c2c","sender":{"userId":"alice"},"recipients":"bob","elems":[{"type":"text"}]}`: "recipients: want array",
		"{\"id\":\"p3\xff\"}": "invalid UTF-8",
	} {
		if !strings.Contains(errs[value], want) {
			t.Errorf("DLQ error for %q = %q, want it to mention %q", value, errs[value], want)
		}
	}
	eventually(t, "all five offsets committed", func() bool { return e.committed()[0] == 5 })
}

func headers(m kafka.Message) map[string]string {
	out := map[string]string{}
	for _, h := range m.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

// TestBadInputOutcomes: each kind of bad input gets its documented outcome, counted in the
// metrics, and the partition keeps moving: a 1 MB text is cut to fit 4096 bytes and pushed,
// a 100k-recipient group is fanned out in batches (its unknown users counted no_device), a
// token APNs calls malformed is removed, an event older than the expiry window is skipped, and
// an ext that cannot fit whole sends the event to the DLQ as payload_too_large.
func TestBadInputOutcomes(t *testing.T) {
	e := newEnv(t, 1)
	good, short := token(), "abcd"
	e.device("bob", good, 2382, 0)
	e.device("zed", short, 2382, 0) // a wrong-length token that reached Redis somehow
	w := e.start(e.opts())
	big := strings.Repeat("x", 1000*1000) // 1 MB; the broker's default record limit is 1 MiB
	recipients := make([]string, 100000)
	for i := range recipients {
		recipients[i] = "nobody-" + strconv.Itoa(i)
	}
	recipients[0] = "bob"
	group, err := json.Marshal(map[string]any{
		"id": "b2", "chatType": "group", "sender": map[string]string{"userId": "alice"}, "group": map[string]string{"id": "g"},
		"recipients": recipients, "elems": []map[string]string{{"type": "image"}},
	})
	must(t, err)
	old := time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339)
	e.publish(
		c2c("b1", "bob", big),
		group,
		c2c("b3", "zed", "to a malformed token"),
		`{"id":"b4","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"stale"}],"sentAt":"`+old+`"}`,
		`{"id":"b6","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"x"}],"offlinePush":{"ext":"`+strings.Repeat("e", 5000)+`"}}`,
		c2c("b5", "bob", "after the bad ones"),
	)
	got := e.waitDeliveries(3)
	ids := map[string]deliveryT{}
	for _, d := range got {
		ids[d.Headers.CollapseID] = d
	}
	if d, ok := ids["b1"]; !ok || len(d.Payload) > 4096 || !strings.Contains(string(d.Payload), "…") {
		t.Errorf("1 MB text: delivered %v, %d bytes, want a cut payload ≤ 4096", ok, len(d.Payload))
	}
	if _, ok := ids["b2"]; !ok {
		t.Error("the 100k group did not reach its one registered member")
	}
	if _, ok := ids["b5"]; !ok {
		t.Error("the event after the bad ones was not delivered")
	}
	want := map[string]int64{
		"sent/": 3, "skipped/no_device": 99999, "skipped/expired": 1, "token_removed/BadDeviceToken": 1,
		"dead_letter/payload_too_large": 1,
	}
	eventually(t, "every outcome counted", func() bool { return maps.Equal(w.pushes(t), want) })
	eventually(t, "all six offsets committed", func() bool { return e.committed()[0] == 6 })
	if h := headers(e.dlqRecords(1)[0]); h[dlq.HeaderReason] != "payload_too_large" {
		t.Errorf("DLQ record headers %v, want reason payload_too_large", h)
	}
}

// TestOversizedDeadLetterIsTruncated: an invalid event too large for the DLQ topic is
// dead-lettered with its first 64 KiB and its size in offpush-truncated, instead of stalling
// its partition on a write that can never succeed.
func TestOversizedDeadLetterIsTruncated(t *testing.T) {
	e := newEnv(t, 1)
	e.dlq = e.kafka.TopicWithConfig(t, "small.dlq", 1, map[string]string{"max.message.bytes": "100000"})
	e.device("bob", token(), 2382, 0)
	e.start(e.opts())
	garbage := make([]byte, 300000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte('!' + rng.IntN(90)) // printable and incompressible enough
	}
	e.publish(append([]byte(`{"id":`), garbage...), c2c("ok1", "bob", "after the big one"))
	e.waitDeliveries(1)
	rec := e.dlqRecords(1)[0]
	if h := headers(rec); h[dlq.HeaderTruncated] != strconv.Itoa(len(garbage)+6) || len(rec.Value) != 64<<10 {
		t.Errorf("DLQ record: %d bytes, headers %v; want 65536 bytes and offpush-truncated", len(rec.Value), h)
	}
	eventually(t, "both offsets committed", func() bool { return e.committed()[0] == 2 })
}
