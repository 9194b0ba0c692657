package pipeline

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestSum: a sum exports a series from its first add on, or at 0 once exported; its values
// are cumulative and monotonic, as a synchronous counter's.
func TestSum(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	s, err := newSum(mp.Meter("test"), "offpush.test", "test", "{push}")
	if err != nil {
		t.Fatal(err)
	}
	a := s.series(attribute.NewSet(attribute.String("outcome", "a")))
	s.export(attribute.NewSet(attribute.String("outcome", "b")))
	collect := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				d, ok := m.Data.(metricdata.Sum[int64])
				if !ok || !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
					t.Fatalf("%s: %T %+v, want a cumulative monotonic sum", m.Name, m.Data, m.Data)
				}
				for _, dp := range d.DataPoints {
					v, _ := dp.Attributes.Value("outcome")
					out[v.AsString()] = dp.Value
				}
			}
		}
		return out
	}
	if got := collect(); len(got) != 1 || got["b"] != 0 {
		t.Errorf("before any add: %v, want only the exported b at 0", got)
	}
	a.Add(2)
	a.Add(3)
	s.series(attribute.NewSet(attribute.String("outcome", "c"))).Add(1)
	if got := s.series(attribute.NewSet(attribute.String("outcome", "a"))); got != a {
		t.Error("the same set gave another counter")
	}
	if got := collect(); len(got) != 3 || got["a"] != 5 || got["b"] != 0 || got["c"] != 1 {
		t.Errorf("after adds: %v, want a 5, b 0, c 1", got)
	}
}
