package pipeline

import (
	"context"
	"offpush/dlq"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// headerCarrier lets the W3C propagator read the trace context of a Kafka record's headers.
type headerCarrier []kafka.Header

func (c headerCarrier) Get(key string) string { return dlq.Header(c, key) }

func (c headerCarrier) Set(string, string) {} // extraction only

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(c))
	for i, h := range c {
		keys[i] = h.Key
	}
	return keys
}

var traceContext = propagation.TraceContext{}

// startEvent starts the span of one event, a child of the producer's traceparent if present.
// Without a tracer provider (Options.Tracer nil or a no-op one) it costs nothing: no span,
// context or attribute per event.
func (p *Pipeline) startEvent(ctx context.Context, m kafka.Message) (context.Context, trace.Span) {
	if p.noTracing {
		return ctx, noSpan
	}
	ctx = traceContext.Extract(ctx, headerCarrier(m.Headers))
	return p.tracer.Start(ctx, "offpush.event", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.Int("messaging.destination.partition.id", m.Partition),
			attribute.Int64("messaging.kafka.offset", m.Offset),
		))
}

// endSpan records err (if any) and ends span.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// startSpan starts a child span of ctx's span, only when that span is recording: an event
// nobody samples costs no span, context or attribute per stage.
func (p *Pipeline) startSpan(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, noSpan
	}
	return p.tracer.Start(ctx, name, opts...)
}

// isNoopTracer reports whether tp is OpenTelemetry's no-op provider (the default).
func isNoopTracer(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return true
	}
	return false
}

// noSpan is a span that records nothing.
var noSpan = trace.SpanFromContext(context.Background())
