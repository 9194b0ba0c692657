package stateapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"offpush/presence"
)

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is not set.
const DefaultMaxBodyBytes = 64 << 10

// storeTimeout bounds the Redis calls of one request, so that a hung Redis answers 503
// before the server's WriteTimeout cuts the connection.
const storeTimeout = 5 * time.Second

// Options configure the state API handler.
type Options struct {
	// Tokens are the accepted bearer tokens; several allow rotation. At least one is required
	// and none may be empty.
	Tokens []string
	// Certificates reports whether busiID is a configured certificate; setToken accepts only
	// those. Required.
	Certificates func(busiID int) bool
	// MaxBodyBytes bounds request bodies (larger ones get 413); default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives request errors and recovered panics; nil discards them.
	Logger *slog.Logger
	// Meter provides the request metrics; nil records nothing.
	Meter metric.MeterProvider
}

// api is the handler New returns. It is immutable after New.
type api struct {
	store   *presence.Store
	certs   func(int) bool
	maxBody int64
	log     *slog.Logger
	auth    *authenticator
	metrics *metrics
	mux     *http.ServeMux
	routes  map[string]bool // the patterns of routeTable
}

// New returns the state API over store.
func New(store *presence.Store, opts Options) (http.Handler, error) {
	if store == nil {
		return nil, errors.New("stateapi: store is required")
	}
	if opts.Certificates == nil {
		return nil, errors.New("stateapi: Options.Certificates is required")
	}
	auth, err := newAuthenticator(opts.Tokens)
	if err != nil {
		return nil, fmt.Errorf("stateapi: %w", err)
	}
	a := &api{store: store, certs: opts.Certificates, maxBody: opts.MaxBodyBytes, log: opts.Logger,
		auth: auth, mux: http.NewServeMux(), routes: make(map[string]bool)}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	mp := opts.Meter
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	if a.metrics, err = newMetrics(mp); err != nil {
		return nil, fmt.Errorf("stateapi: metrics: %w", err)
	}
	for _, rt := range routeTable {
		a.mux.Handle(rt.pattern, a.handler(rt.pattern, rt.fn))
		a.routes[rt.pattern] = true
	}
	return a, nil
}

// NewServer returns an http.Server for h on addr with timeouts and limits that keep slow or
// greedy clients from holding connections.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// ServeHTTP authenticates the request, then hands it to its route, or answers 404/405. It
// records every request in the metrics and turns a panic into a 500.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h, route := a.match(r)
	defer func() { a.metrics.record(r.Context(), route, sw.status(), time.Since(start)) }()
	defer a.recover(sw, r, route)
	if msg, ok := a.auth.check(r); !ok {
		sw.Header().Set("WWW-Authenticate", "Bearer")
		writeError(sw, http.StatusUnauthorized, msg)
		return
	}
	if route == unmatched {
		a.unmatched(sw, r, h)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.bodyLimit(route))
	a.mux.ServeHTTP(sw, r)
}

// unmatched is the route label of requests no route serves.
const unmatched = "unmatched"

// match returns the mux's handler for r and the route pattern serving it, or unmatched. A
// path the mux would redirect to its clean form (//, /./, /../) is unmatched too: API
// clients get a JSON 404, not a redirect.
func (a *api) match(r *http.Request) (http.Handler, string) {
	h, pattern := a.mux.Handler(r)
	if !a.routes[pattern] || r.Method == http.MethodConnect || cleanPath(r.URL.EscapedPath()) != r.URL.EscapedPath() {
		return h, unmatched
	}
	return h, pattern
}

// unmatched answers a request no route serves: 405 with Allow when the path exists for other
// methods, else 404. h is the mux's own answer, run on a scratch writer to learn which.
func (a *api) unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	var c captureWriter
	h.ServeHTTP(&c, r)
	if c.code == http.StatusMethodNotAllowed {
		allow := c.Header().Get("Allow")
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; allowed: "+allow)
		return
	}
	writeError(w, http.StatusNotFound, "not found")
}

// handlerFunc is one route: it returns the response body (nil: 204 No Content) or an error
// that fail turns into a status.
type handlerFunc func(a *api, r *http.Request) (any, error)

// handler adapts fn to http.Handler, with a deadline for its Redis calls.
func (a *api) handler(pattern string, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		defer cancel()
		body, err := fn(a, r.WithContext(ctx))
		switch {
		case err != nil:
			a.fail(w, r, pattern, err)
		case body == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusOK, body)
		}
	})
}

// fail answers err: an *apiError with its status, an oversized body with 413, anything else
// (a Store error: Redis is down or slow) with 503, logged but never shown to the client.
func (a *api) fail(w http.ResponseWriter, r *http.Request, route string, err error) {
	var ae *apiError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.code, ae.msg)
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", tooLarge.Limit))
	default:
		level := slog.LevelWarn
		if r.Context().Err() != nil { // the client went away
			level = slog.LevelDebug
		}
		a.log.Log(r.Context(), level, "state api: store failed", "route", route, "err", err)
		writeError(w, http.StatusServiceUnavailable, "state store unavailable")
	}
}

// recover turns a panic of the request into a logged error and, if nothing was written yet,
// a 500 without details. http.ErrAbortHandler keeps its meaning.
func (a *api) recover(w *statusWriter, r *http.Request, route string) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	a.log.Error("state api: panic", "route", route, "method", r.Method, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if !w.wrote {
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
