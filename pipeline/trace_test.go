package pipeline_test

import (
	"context"
	"offpush/dlq"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTracePropagation: the producer's traceparent is the parent of the event's span, the
// lookup, claim and APNs send spans are its children, and a dead letter keeps the traceparent.
func TestTracePropagation(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const parent = "00-" + traceID + "-00f067aa0ba902b7-01"
	e := newEnv(t, 1)
	e.device("bob", token(), 2382, 0)
	e.device("hank", token(), 9999, 0) // unknown certificate: dead letter
	rec := tracetest.NewSpanRecorder()
	o := e.opts()
	o.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	e.start(o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := []kafka.Header{{Key: "traceparent", Value: []byte(parent)}}
	must(t, e.kafka.Produce(ctx, e.topic,
		kafka.Message{Value: []byte(c2c("tr1", "bob", "hi")), Headers: hdr},
		kafka.Message{Value: []byte(c2c("tr2", "hank", "hi")), Headers: hdr}))
	e.waitDeliveries(1)
	if h := headers(e.dlqRecords(1)[0]); h[dlq.HeaderTraceparent] != parent {
		t.Errorf("DLQ traceparent = %q, want %q", h[dlq.HeaderTraceparent], parent)
	}
	want := map[string]bool{"offpush.event": false, "presence.lookup": false, "render.decide": false, "presence.claim": false, "apns.send": false}
	eventually(t, "spans of both events", func() bool {
		for _, s := range rec.Ended() {
			if _, ok := want[s.Name()]; ok && s.SpanContext().TraceID().String() == traceID {
				want[s.Name()] = true
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	})
	for _, s := range rec.Ended() {
		if s.Name() == "offpush.event" && s.Parent().SpanID().String() != "00f067aa0ba902b7" {
			t.Errorf("event span's parent = %s, want the producer's span", s.Parent().SpanID())
		}
	}
}
