package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestConversationOrderPerDevice publishes eight messages of one large group (three batches
// each, in the bulk lane, with APNs answering after a random 0–20 ms) and one-to-one messages
// of other conversations between them, all on one partition: every member's device receives
// the group's messages in message order, and every push arrives once.
func TestConversationOrderPerDevice(t *testing.T) {
	const members, msgs = 300, 8
	e := newEnv(t, 1)
	names := make([]string, members)
	tokens := map[string]string{} // token → user
	for i := range names {
		names[i] = fmt.Sprintf("m%03d", i)
		tok := token()
		tokens[tok] = names[i]
		e.device(names[i], tok, 2382, 0)
	}
	e.device("bob", token(), 2382, 0)
	e.sim.SetJitter(20 * time.Millisecond)
	recipients := `"` + strings.Join(names, `","`) + `"`
	var batch []kafka.Message
	for k := range msgs {
		batch = append(batch,
			kafka.Message{Key: []byte("group:g-order"), Value: []byte(fmt.Sprintf(`{"id":"g-%d","chatType":"group","sender":{"userId":"alice","nickname":"Alice"},"group":{"id":"g-order","name":"Order"},"recipients":[%s],"elems":[{"type":"text","text":"msg %d"}]}`, k, recipients, k))},
			kafka.Message{Key: []byte(fmt.Sprintf("c2c:x%d", k)), Value: []byte(c2c(fmt.Sprintf("c-%d", k), "bob", "hi"))},
		)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.kafka.Produce(ctx, e.topic, batch...); err != nil {
		t.Fatal(err)
	}
	e.start(e.opts())
	got := e.waitDeliveries(members*msgs + msgs)
	next := map[string]int{} // token → index of the next group message it must get
	for _, d := range got {
		id := d.Headers.CollapseID
		if !strings.HasPrefix(id, "g-") {
			continue
		}
		var k int
		fmt.Sscanf(id, "g-%d", &k)
		if k != next[d.Token] {
			t.Fatalf("%s got %s after g-%d", tokens[d.Token], id, next[d.Token]-1)
		}
		next[d.Token]++
	}
	for tok, user := range tokens {
		if next[tok] != msgs {
			t.Errorf("%s got %d of %d group messages", user, next[tok], msgs)
		}
	}
}
