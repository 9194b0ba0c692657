package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Telemetry is the process's OpenTelemetry providers: metrics exported for Prometheus on
// /metrics, traces exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, not recorded otherwise.
type Telemetry struct {
	Meter    *sdkmetric.MeterProvider
	Tracer   trace.TracerProvider
	registry *prometheus.Registry
	shutdown []func(context.Context) error
}

// NewTelemetry builds the providers; environ is the process environment.
func NewTelemetry(ctx context.Context, environ func(string) string) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	t := &Telemetry{Meter: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), registry: reg, Tracer: tracenoop.NewTracerProvider()}
	t.shutdown = append(t.shutdown, t.Meter.Shutdown)
	if environ("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && environ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return t, nil
	}
	texp, err := otlptracehttp.New(ctx) // reads the OTEL_EXPORTER_OTLP_* variables
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "offpush"))))
	t.Tracer = tp
	t.shutdown = append(t.shutdown, tp.Shutdown)
	return t, nil
}

// MetricsHandler serves the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Shutdown flushes and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// ReadyCheck is one named readiness condition of /readyz.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// OpsHandler serves /metrics, /healthz (the process is alive) and /readyz (every check passes).
func OpsHandler(t *Telemetry, checks []ReadyCheck) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.MetricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				http.Error(w, c.Name+": "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// Serve runs srv on ln until ctx ends, then shuts it down gracefully.
func Serve(ctx context.Context, ln net.Listener, srv *http.Server, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "addr", ln.Addr().String(), "err", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
