package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"offpush/config"
	"offpush/stateapi"
)

// Run is `offpush run`: the worker and its ops endpoints, configured by --config and OFFPUSH_*
// variables. It exits non-zero with a message naming the dependency that is unusable at start.
func Run(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (every key also settable as OFFPUSH_…)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	log := slog.New(cfg.Log.Handler(stderr))
	log.Info("starting", "config", cfg)
	TuneGC()
	return runWorker(ctx, cfg, log, Deps{})
}

// runWorker starts the worker and its ops server and blocks until ctx ends and both stopped.
func runWorker(ctx context.Context, cfg config.Config, log *slog.Logger, deps Deps) error {
	return runWorkerWith(ctx, cfg, log, deps, nil)
}

// runWorkerWith is runWorker that also hands the started worker to started (when not nil).
func runWorkerWith(ctx context.Context, cfg config.Config, log *slog.Logger, deps Deps, started chan<- *Worker) error {
	tel, err := NewTelemetry(ctx, os.Getenv)
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))
	deps.Logger, deps.Meter, deps.Tracer = log, tel.Meter, tel.Tracer
	w, err := NewWorker(ctx, cfg, deps)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := watchCertificates(tel.Meter, log, w.Certs, time.Now); err != nil {
		return err
	}
	servers, err := listen(cfg, w, tel, log)
	if err != nil {
		return err
	}
	srvCtx, stopServers := context.WithCancel(context.WithoutCancel(ctx))
	srvDone := make(chan error, len(servers))
	for _, s := range servers {
		go func() { srvDone <- Serve(srvCtx, s.ln, s.srv, log) }()
	}
	log.Info("worker running", "api", servers[0].ln.Addr().String(), "ops", servers[1].ln.Addr().String(),
		"topic", cfg.Kafka.Topic, "group", cfg.Kafka.GroupID)
	if started != nil {
		started <- w
	}
	err = w.Pipeline.Run(ctx)
	stopServers()
	for range servers {
		err = errors.Join(err, <-srvDone)
	}
	return err
}

// server is an HTTP server and the listener it will serve.
type server struct {
	ln  net.Listener
	srv *http.Server
}

// listen opens the state API (api.addr) and the ops endpoints (ops.addr), in that order.
func listen(cfg config.Config, w *Worker, tel *Telemetry, log *slog.Logger) ([]server, error) {
	api, err := stateapi.New(w.Store, stateapi.Options{
		Tokens: cfg.API.Tokens, Certificates: w.APNs.Known,
		MaxBodyBytes: cfg.API.MaxBodyBytes, Logger: log, Meter: tel.Meter,
	})
	if err != nil {
		return nil, fmt.Errorf("state API: %w", err)
	}
	checks := []ReadyCheck{
		{"kafka", func(context.Context) error { return boolErr(w.Pipeline.Ready(), "consumer has not joined its group") }},
		{"redis", func(ctx context.Context) error { return w.Redis.Ping(ctx).Err() }},
	}
	apiLn, err := net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		return nil, fmt.Errorf("api.addr: %w", err)
	}
	opsLn, err := net.Listen("tcp", cfg.Ops.Addr)
	if err != nil {
		apiLn.Close()
		return nil, fmt.Errorf("ops.addr: %w", err)
	}
	opsSrv := &http.Server{Handler: OpsHandler(tel, checks), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	return []server{{apiLn, stateapi.NewServer(cfg.API.Addr, api)}, {opsLn, opsSrv}}, nil
}

func boolErr(ok bool, msg string) error {
	if ok {
		return nil
	}
	return errors.New(msg)
}
