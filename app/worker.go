package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"offpush/apns"
	"offpush/config"
	"offpush/kafkaconn"
	"offpush/pipeline"
	"offpush/presence"
	"offpush/render"
)

// Worker is a wired offpush worker: its Redis client, APNs pool and pipeline.
type Worker struct {
	Redis    redis.UniversalClient
	Store    *presence.Store
	APNs     *apns.Pool
	Pipeline *pipeline.Pipeline
	Certs    []apns.Certificate
}

// Deps are what a Worker takes from its caller rather than from the configuration.
type Deps struct {
	Logger *slog.Logger
	Meter  metric.MeterProvider
	Tracer trace.TracerProvider
	// Redis, when set, is used instead of a client built from cfg.Redis (offpush dev).
	Redis redis.UniversalClient
}

// NewWorker connects to Redis and Kafka, loads the certificates and builds the pipeline. Any
// unusable dependency is an error that names it; nothing is left open on error.
func NewWorker(ctx context.Context, cfg config.Config, deps Deps) (*Worker, error) {
	routeLibraryLogs(deps.Logger)
	w := &Worker{Redis: deps.Redis}
	if err := w.connect(ctx, cfg, deps); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *Worker) connect(ctx context.Context, cfg config.Config, deps Deps) (err error) {
	if w.Redis == nil {
		if w.Redis, err = newRedis(cfg.Redis); err != nil {
			return err
		}
	}
	if err := ping(ctx, w.Redis, cfg.Redis.Addrs); err != nil {
		return err
	}
	dialer, err := cfg.Kafka.Dialer()
	if err != nil {
		return err
	}
	if err := checkTopics(ctx, dialer, cfg.Kafka); err != nil {
		return err
	}
	if w.Certs, err = loadCertificates(cfg.APNs.Certificates); err != nil {
		return err
	}
	if w.APNs, err = newPool(cfg.APNs, w.Certs); err != nil {
		return err
	}
	w.Store = presence.New(w.Redis, presenceOptions(cfg))
	w.Pipeline, err = pipeline.New(pipelineOptions(cfg, dialer, deps), w.Store, w.APNs)
	return err
}

// presenceOptions are the Store's options of cfg.
func presenceOptions(cfg config.Config) presence.Options {
	return presence.Options{
		Prefix: cfg.Presence.Prefix, ForegroundTTL: cfg.Presence.ForegroundTTL, DedupeTTL: cfg.Presence.DedupeTTL,
		// A claim is another worker's while its send can still be running: the retry budget
		// plus the last attempt's timeout, with a timeout of margin for the wait for a sender.
		ClaimLease: cfg.APNs.MaxElapsed + 2*cfg.APNs.Timeout,
	}
}

// Close releases the connections of w.
func (w *Worker) Close() {
	if w.APNs != nil {
		w.APNs.Close()
	}
	if w.Redis != nil {
		_ = w.Redis.Close()
	}
}

func pipelineOptions(cfg config.Config, dialer *kafka.Dialer, deps Deps) pipeline.Options {
	return pipeline.Options{
		Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.Topic, DLQTopic: cfg.Kafka.DLQTopic, GroupID: cfg.Kafka.GroupID,
		Dialer: dialer, SessionTimeout: cfg.Kafka.SessionTimeout, CommitInterval: cfg.Kafka.CommitInterval,
		QueueSize: cfg.Pipeline.QueueSize, BatchSize: cfg.Pipeline.BatchSize,
		MaxEvents: cfg.Pipeline.MaxEvents, MaxBytes: cfg.Pipeline.MaxBytes, LargeEvent: cfg.Pipeline.LargeEvent,
		FanoutWindow: cfg.Pipeline.FanoutWindow, BulkBatches: cfg.Pipeline.BulkBatches,
		MaxPushes: cfg.Pipeline.MaxPushes, MaxRecipients: cfg.Pipeline.MaxRecipients,
		Expiry: cfg.Pipeline.Expiry, MaxAttempts: cfg.APNs.MaxAttempts, MaxElapsed: cfg.APNs.MaxElapsed,
		Texts:         render.Options{PreviewName: cfg.Render.PreviewName, PreviewNone: cfg.Render.PreviewNone, Recalled: cfg.Render.Recalled, LocKeys: cfg.Render.LocKeys},
		ShutdownGrace: cfg.Pipeline.ShutdownGrace,
		Logger:        deps.Logger, Meter: deps.Meter, Tracer: deps.Tracer,
	}
}

// newRedis builds the worker's Redis client: a single node for one address, a Redis Cluster
// client for several (see failFastCluster for how it follows a failover).
func newRedis(c config.Redis) (redis.UniversalClient, error) {
	tlsCfg, err := c.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("redis.tls: %w", err)
	}
	opts := &redis.UniversalOptions{
		Addrs: c.Addrs, Username: c.Username, Password: c.Password, DB: c.DB, TLSConfig: tlsCfg,
	}
	if len(c.Addrs) > 1 {
		opts.DialTimeout, opts.DialerRetries = clusterDialTimeout, clusterDialRetries
	}
	rdb := redis.NewUniversalClient(opts)
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		failFastCluster(cc)
	}
	return rdb, nil
}

// A cluster node that is down must fail its commands quickly: each failure makes the client
// reload the slot map (failFastCluster). go-redis dials up to DialerRetries times per
// connection, each for up to DialTimeout (5 s and 5 by default: 25 s before a blackholed
// host's first error).
const (
	clusterDialTimeout = 2 * time.Second
	clusterDialRetries = 2
)

// failFastCluster makes cc reload its slot map whenever a command to a node fails without
// a Redis reply (connection refused or reset, timeout) or the node answers CLUSTERDOWN,
// TRYAGAIN or MASTERDOWN.
//
// go-redis's ClusterClient reloads the map by itself only after a MOVED or ASK redirect and
// every ClusterStateReloadInterval (60 s). A killed master answers nothing, so no redirect
// comes: the client kept sending that master's slots to the dead address for up to a minute
// after its replica had taken over. Routing a slot's commands elsewhere does not help either:
// with ReadOnly off they always go to the slot's master in the map. ReloadState is lazy and
// coalesced (one CLUSTER SLOTS at a time, at most one more queued), so while a master is down
// the map is read again a few times a second, and the first read after the replica's
// promotion routes its slots there: the pushes of its users resume within the pipeline's
// retry delay. A shorter reload interval would do the same at the cost of a CLUSTER SLOTS
// every interval when nothing fails.
//
// Each node also gets a dialBreaker: once a dial to it failed, its commands fail at once for
// a while instead of each waiting for its own dials and go-redis's retries. A pipeline that
// spans several nodes returns only when every node's part is done, so without it a merged
// call of many users waited for the dead master's dials to fail before its users on live
// masters got their answers.
func failFastCluster(cc *redis.ClusterClient) {
	h := reloadHook{reload: func() { cc.ReloadState(context.Background()) }}
	cc.OnNewNode(func(node *redis.Client) {
		node.AddHook(h)
		node.AddHook(newDialBreaker(node.Options().Addr, nodeBreakerOpen))
	})
}

// nodeBreakerOpen is how long a cluster node that could not be dialled fails its commands
// without dialling it again. It is short: a node that is back (or a replica promoted in its
// place, which the slot map reload finds) waits at most this long.
const nodeBreakerOpen = 250 * time.Millisecond

// dialBreaker fails the commands, pipelines and dials of one node at once for open after a
// dial to it failed (refused, timed out, unreachable); after that they go through again, and
// the next dial failure opens it again. It keeps its error: the callers see why, and
// reloadHook, outside it, still reloads the slot map.
type dialBreaker struct {
	addr string
	open time.Duration

	mu    sync.Mutex
	until time.Time
	err   error
}

func newDialBreaker(addr string, open time.Duration) *dialBreaker {
	return &dialBreaker{addr: addr, open: open}
}

// failing is the breaker's error while it is open, else nil.
func (b *dialBreaker) failing() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil || !time.Now().Before(b.until) {
		return nil
	}
	return b.err
}

func (b *dialBreaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := b.failing(); err != nil {
			return nil, err
		}
		conn, err := next(ctx, network, addr)
		b.mu.Lock()
		defer b.mu.Unlock()
		switch {
		case err == nil:
			b.err = nil
		case !errors.Is(err, context.Canceled): // the caller gave up: says nothing of the node
			b.until = time.Now().Add(b.open)
			b.err = &breakerError{addr: b.addr, open: b.open, err: err}
		}
		return conn, err
	}
}

func (b *dialBreaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := b.failing(); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (b *dialBreaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := b.failing(); err != nil {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// breakerError is the error of a command that a dialBreaker failed: it wraps the dial error.
type breakerError struct {
	addr string
	open time.Duration
	err  error
}

func (e *breakerError) Error() string {
	return fmt.Sprintf("redis node %s not dialled again for %v: %v", e.addr, e.open, e.err)
}

func (e *breakerError) Unwrap() error { return e.err }

// reloadHook calls reload after a node's command or pipeline failed in a way that can mean
// the cluster's topology changed.
type reloadHook struct{ reload func() }

func (h reloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadHook) check(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil && topologyError(err) {
		h.reload()
	}
}

// topologyError reports whether err, from one node, suggests that the slot map is stale: no
// Redis reply at all (the node is down or unreachable) or a cluster that is reconfiguring. A
// Redis error reply (redis.Nil, WRONGTYPE, a script error) says nothing about the topology,
// nor does a context's end (the caller's, or a deadline that is not the network's).
func topologyError(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, prefix := range []string{"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"} {
			if strings.HasPrefix(msg, prefix) {
				return true
			}
		}
		return false
	}
	var op *net.OpError // dial, read and write errors, timeouts included
	if errors.As(err, &op) {
		return true
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func ping(ctx context.Context, rdb redis.UniversalClient, addrs []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %v is not usable: %w", addrs, err)
	}
	return nil
}

// checkTopics fails when the brokers cannot be reached or a topic does not exist, so that a
// worker does not start consuming into a DLQ it cannot write.
func checkTopics(ctx context.Context, d *kafka.Dialer, c config.Kafka) error {
	d = kafkaconn.Conn{Brokers: c.Brokers, Dialer: d}.DialerOrDefault()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var conn *kafka.Conn
	var err error
	for _, b := range c.Brokers {
		if conn, err = d.DialContext(ctx, "tcp", b); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("kafka brokers %v are not reachable: %w", c.Brokers, err)
	}
	defer conn.Close()
	for _, topic := range []string{c.Topic, c.DLQTopic} {
		parts, err := conn.ReadPartitions(topic)
		if err != nil || len(parts) == 0 {
			return fmt.Errorf("kafka topic %q is not usable (create it first): %v", topic, err)
		}
	}
	return nil
}

func loadCertificates(certs []config.Certificate) ([]apns.Certificate, error) {
	out := make([]apns.Certificate, 0, len(certs))
	for _, c := range certs {
		ac := apns.Certificate{ID: c.ID, Topic: c.BundleID, Production: c.Production(), KeyID: c.KeyID, TeamID: c.TeamID, VoIP: c.VoIP}
		if c.TokenAuth() {
			key, err := c.LoadAuthKey()
			if err != nil {
				return nil, err
			}
			ac.AuthKey = key
		} else {
			tc, notAfter, err := c.LoadTLS()
			if err != nil {
				return nil, err
			}
			ac.TLS, ac.NotAfter = &tc, notAfter
		}
		out = append(out, ac)
	}
	if len(out) == 0 {
		return nil, errors.New("apns.certificates: none configured")
	}
	return out, nil
}

func newPool(c config.APNs, certs []apns.Certificate) (*apns.Pool, error) {
	roots, err := c.RootCAs()
	if err != nil {
		return nil, fmt.Errorf("apns.caFile: %w", err)
	}
	return apns.NewPool(certs, apns.Options{
		Host: c.Host, RootCAs: roots, Transport: c.Transport, Connections: c.Connections, MaxConnections: c.MaxConnections, InFlight: c.InFlight, Timeout: c.Timeout,
	})
}
