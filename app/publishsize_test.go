package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"

	"offpush/embedkafka"
)

// groupLines is n group events of k recipients each, one a line. Random ids compress less
// than numbered ones.
func groupLines(n, k int, random bool) string {
	var b strings.Builder
	for i := range n {
		rs := make([]string, k)
		for j := range rs {
			rs[j] = fmt.Sprintf("user-%07d", j)
			if random {
				rs[j] = fmt.Sprintf("%016x", rand.Uint64())
			}
		}
		r, _ := json.Marshal(rs)
		fmt.Fprintf(&b, `{"id":"g-%d","chatType":"group","sender":{"userId":"alice"},"group":{"id":"g%d"},"recipients":%s,"elems":[{"type":"text","text":"hi"}]}`+"\n", i, i%3, r)
	}
	return b.String()
}

// TestPublishLargeEvents: a file of 20 events of 20000 recipients (about 300 KB each, six
// megabytes in all, over Kafka's default 1 MB limit together) is sent whole, in batches that
// fit the topic's limit compressed; with a lower max.message.bytes on the topic, read from
// the broker, it still goes through in smaller batches.
func TestPublishLargeEvents(t *testing.T) {
	k := embedkafka.Start(t)
	lines := groupLines(20, 20000, true)
	for _, tc := range []struct {
		name    string
		configs map[string]string
	}{
		{"default limit", nil},
		{"topic limit 600000", map[string]string{"max.message.bytes": "600000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			topic := k.TopicWithConfig(t, "big-"+strings.ReplaceAll(tc.name, " ", "-"), 3, tc.configs)
			var out bytes.Buffer
			if err := Publish(ctx, []string{"--brokers", k.Brokers[0], "--topic", topic, "-"}, strings.NewReader(lines), &out, &out); err != nil {
				t.Fatal(err)
			}
			msgs, err := k.ReadAll(ctx, topic, 20)
			if err != nil || len(msgs) != 20 {
				t.Fatalf("read %d events: %v", len(msgs), err)
			}
		})
	}
}

// TestPublishTooLarge: an event over the limit on its own is refused before anything is
// sent, naming its line and the limit (the topic's, or --max-message-bytes).
func TestPublishTooLarge(t *testing.T) {
	k := embedkafka.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	small := groupLines(1, 10, false)
	big := groupLines(1, 20000, true) // ~400 KB raw, ~300 KB compressed
	topic := k.TopicWithConfig(t, "small-limit", 1, map[string]string{"max.message.bytes": "100000"})
	var out bytes.Buffer
	err := Publish(ctx, []string{"--brokers", k.Brokers[0], "--topic", topic}, strings.NewReader(small+big), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "stdin:2: event of ") || !strings.Contains(err.Error(), "over the topic's limit of 100000") {
		t.Errorf("error %v, want it to name stdin:2 and the limit 100000", err)
	}
	other := k.Topic(t, "flag-limit", 1)
	err = Publish(ctx, []string{"--brokers", k.Brokers[0], "--topic", other, "--max-message-bytes", "5000"}, strings.NewReader(small+small+big), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "stdin:3:") || !strings.Contains(err.Error(), "limit of 5000") {
		t.Errorf("--max-message-bytes: error %v, want stdin:3 and the limit 5000", err)
	}
	for _, tp := range []string{topic, other} {
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if msgs, _ := k.ReadAll(short, tp, 1); len(msgs) != 0 {
			t.Errorf("%s: %d events sent despite the refused line", tp, len(msgs))
		}
	}
}

// TestPublishRate: --rate paces the events.
func TestPublishRate(t *testing.T) {
	k := newTopicCluster(t, "im.messages")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lines := strings.Repeat(groupLines(1, 2, false), 30)
	start := time.Now()
	var out bytes.Buffer
	if err := Publish(ctx, []string{"--brokers", k.Brokers[0], "--rate", "100", "-"}, strings.NewReader(lines), &out, &out); err != nil {
		t.Fatal(err)
	}
	// Ten events per call, each call waiting until its due time: the third starts 0.2 s after
	// the first at the earliest. A lower bound the pacing guarantees, whatever the machine.
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("30 events at 100/s took %v, want at least 0.2 s", took)
	}
	if msgs, err := k.ReadAll(ctx, "im.messages", 30); err != nil || len(msgs) != 30 {
		t.Errorf("read %d: %v", len(msgs), err)
	}
	for _, bad := range [][]string{{"--rate", "-1"}, {"--max-message-bytes", "-5"}} {
		if err := Publish(ctx, append(bad, "-"), strings.NewReader(lines), &out, &out); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestPublishSASL: the SASL flags (and a --config kafka section) reach a broker that requires
// SCRAM; a wrong password fails.
func TestPublishSASL(t *testing.T) {
	k, err := embedkafka.NewFake("127.0.0.1:0", kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "offpush", "kafka-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	mech, err := scram.Mechanism(scram.SHA256, "offpush", "kafka-pw")
	if err != nil {
		t.Fatal(err)
	}
	k.Dialer = &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: mech}
	if err := k.CreateTopic(context.Background(), "im.messages", 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pw, wrong := filepath.Join(dir, "pw"), filepath.Join(dir, "wrong")
	must(t, os.WriteFile(pw, []byte("kafka-pw\n"), 0o600))
	must(t, os.WriteFile(wrong, []byte("nope"), 0o600))
	cfg := filepath.Join(dir, "offpush.yaml")
	must(t, os.WriteFile(cfg, []byte("kafka:\n  brokers: ["+k.Brokers[0]+"]\n  sasl:\n    mechanism: SCRAM-SHA-256\n    username: offpush\n    passwordFile: "+pw+"\n"), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	line := groupLines(1, 2, false)
	var out bytes.Buffer
	sasl := []string{"--brokers", k.Brokers[0], "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "offpush"}
	if err := Publish(ctx, append(sasl, "--sasl-password-file", pw, "-"), strings.NewReader(line), &out, &out); err != nil {
		t.Fatalf("SASL flags: %v", err)
	}
	if err := Publish(ctx, []string{"--config", cfg, "-"}, strings.NewReader(line), &out, &out); err != nil {
		t.Fatalf("--config: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	if err := Publish(short, append(sasl, "--sasl-password-file", wrong, "-"), strings.NewReader(line), &out, &out); err == nil {
		t.Error("wrong SASL password: no error")
	}
	if msgs, err := k.ReadAll(ctx, "im.messages", 2); err != nil || len(msgs) != 2 {
		t.Errorf("read %d: %v", len(msgs), err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
