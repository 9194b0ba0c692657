package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestPublish sends JSON lines keyed by conversation; an invalid line is refused with its line
// number before anything is sent, unless --raw.
func TestPublish(t *testing.T) {
	k := newTopicCluster(t, "im.messages")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lines := `{"id":"a","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"hi"}]}

{"id":"b","chatType":"group","sender":{"userId":"alice"},"group":{"id":"g"},"recipients":["bob"],"elems":[{"type":"image"}]}
`
	var out bytes.Buffer
	if err := Publish(ctx, []string{"--brokers", k.Brokers[0], "--topic", "im.messages", "-"}, strings.NewReader(lines), &out, &out); err != nil {
		t.Fatal(err)
	}
	msgs, err := k.ReadAll(ctx, "im.messages", 2)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range msgs {
		keys[string(m.Key)] = true
	}
	if len(msgs) != 2 || !keys["c2c:alice:bob"] || !keys["group:g"] {
		t.Errorf("published %d records with keys %v", len(msgs), keys)
	}
	err = Publish(ctx, []string{"--brokers", k.Brokers[0], "--topic", "im.messages"}, strings.NewReader(lines+"{\"id\":\"c\"}\n"), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "stdin:4: chatType: required") {
		t.Errorf("invalid line: error %v, want it to name stdin:4 and the field", err)
	}
	if msgs, _ := k.ReadAll(ctx, "im.messages", 2); len(msgs) != 2 {
		t.Errorf("%d records after a refused publish, want still 2", len(msgs))
	}
	if err := Publish(ctx, []string{"--brokers", k.Brokers[0], "--topic", "im.messages", "--raw"}, strings.NewReader("not json\n"), &out, &out); err != nil {
		t.Errorf("--raw: %v", err)
	}
}
