package stateapi

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names of the state API.
const (
	metricRequests = "offpush.api.requests"         // counter; attributes route, code
	metricDuration = "offpush.api.request.duration" // histogram in seconds; attributes route, code
)

// metrics are the state API's instruments. The route attribute is the ServeMux pattern
// ("PUT /v1/users/{userId}/devices/{deviceToken}") or "unmatched", never the raw path, so
// its cardinality is bounded.
type metrics struct {
	requests metric.Int64Counter
	duration metric.Float64Histogram
}

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	m := mp.Meter("offpush/stateapi")
	req, err := m.Int64Counter(metricRequests,
		metric.WithDescription("State API requests by route pattern and status code."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, err
	}
	dur, err := m.Float64Histogram(metricDuration,
		metric.WithDescription("State API request latency by route pattern and status code."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	if err != nil {
		return nil, err
	}
	return &metrics{requests: req, duration: dur}, nil
}

// record counts one request and its latency.
func (m *metrics) record(ctx context.Context, route string, code int, d time.Duration) {
	set := metric.WithAttributeSet(attribute.NewSet(attribute.String("route", route), attribute.Int("code", code)))
	m.requests.Add(context.WithoutCancel(ctx), 1, set)
	m.duration.Record(context.WithoutCancel(ctx), d.Seconds(), set)
}
