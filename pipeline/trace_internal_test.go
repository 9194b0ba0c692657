package pipeline

import (
	"context"
	"testing"

	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// TestStartEventUntraced: without a tracer provider an event starts no span and allocates
// nothing for it, even with a traceparent header; with one it starts a recording span.
func TestStartEventUntraced(t *testing.T) {
	m := kafka.Message{Topic: "im.messages", Partition: 3, Offset: 42,
		Headers: []kafka.Header{{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}}}
	ctx := context.Background()

	p := &Pipeline{tracer: tracenoop.NewTracerProvider().Tracer("t"), noTracing: isNoopTracer(tracenoop.NewTracerProvider())}
	if !p.noTracing {
		t.Fatal("the no-op provider is not recognized")
	}
	if n := testing.AllocsPerRun(100, func() { _, span := p.startEvent(ctx, m); span.End() }); n != 0 {
		t.Errorf("untraced startEvent: %.0f allocations, want 0", n)
	}

	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(ctx) }()
	p = &Pipeline{tracer: tp.Tracer("t"), noTracing: isNoopTracer(tp)}
	_, span := p.startEvent(ctx, m)
	defer span.End()
	if p.noTracing || !span.IsRecording() || span.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("traced startEvent: noTracing %v, recording %v, trace %s; want a recording child of the traceparent",
			p.noTracing, span.IsRecording(), span.SpanContext().TraceID())
	}
}
