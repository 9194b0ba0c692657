package app

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"offpush/apnssim"
	"offpush/certgen"
	"offpush/config"
	"offpush/embedkafka"
)

// devFlags are the flags of `offpush dev` (see the README's quick start).
type devFlags struct {
	kafkaAddr, redisURL, apiAddr, apiToken, apnsAddr, opsAddr, deliveries string
	noDemo, verbose                                                       bool
}

// Dev is `offpush dev`: the whole system in one process on embedded defaults (in-process
// Kafka, in-process Redis unless --redis, the APNs simulator, the worker and its endpoints),
// with a demo that registers devices, publishes messages and prints every push received.
func Dev(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	f, err := parseDevFlags(args, stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "offpush-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	kafka, err := embedkafka.NewFake(f.kafkaAddr)
	if err != nil {
		return fmt.Errorf("start in-process Kafka on %s: %w", f.kafkaAddr, err)
	}
	defer kafka.Close()
	rdb, redisDesc, closeRedis, err := devRedis(f.redisURL)
	if err != nil {
		return err
	}
	defer closeRedis()
	printer := newPushPrinter(stdout)
	f.kafkaAddr = kafka.Brokers[0] // the bound address when the flag asked for port 0
	sim, cfg, err := devSimulatorAndConfig(dir, f, printer)
	if err != nil {
		return err
	}
	defer sim.Close()
	for _, topic := range []string{cfg.Kafka.Topic, cfg.Kafka.DLQTopic} {
		if err := kafka.CreateTopic(ctx, topic, 4); err != nil {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
	}
	fmt.Fprintf(stdout, "offpush dev\n  kafka      %s (in-process; topics %s, %s)\n  redis      %s\n  apns-sim   %s\n  state API  http://%s  (Authorization: Bearer %s)\n  ops        http://%s/metrics /healthz /readyz\n\n",
		kafka.Brokers[0], cfg.Kafka.Topic, cfg.Kafka.DLQTopic, redisDesc, sim.URL(), f.apiAddr, f.apiToken, f.opsAddr)

	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	started := make(chan *Worker, 1)
	demoDone := make(chan error, 1)
	demoCtx, stopDemo := context.WithCancel(ctx)
	curl := fmt.Sprintf("curl -H 'Authorization: Bearer %s' http://%s/v1/users/bob/devices", f.apiToken, f.apiAddr)
	go func() { demoDone <- runDemo(demoCtx, started, kafka, cfg.Kafka.Topic, curl, f.noDemo, printer, stdout) }()
	err = runWorkerWith(ctx, cfg, log, Deps{Redis: rdb}, started)
	stopDemo()
	if derr := <-demoDone; derr != nil && !errors.Is(derr, context.Canceled) {
		err = errors.Join(err, fmt.Errorf("demo: %w", derr))
	}
	return err
}

func parseDevFlags(args []string, stderr io.Writer) (devFlags, error) {
	var f devFlags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "listen address of the in-process Kafka")
	fs.StringVar(&f.redisURL, "redis", "", "Redis URL (redis://host:port/0); default an in-process Redis")
	fs.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:8080", "state API listen address")
	fs.StringVar(&f.apiToken, "api-token", "dev", "state API bearer token")
	fs.StringVar(&f.apnsAddr, "apns-addr", "127.0.0.1:2197", "APNs simulator listen address")
	fs.StringVar(&f.opsAddr, "ops-addr", "127.0.0.1:9090", "listen address of /metrics, /healthz, /readyz")
	fs.StringVar(&f.deliveries, "deliveries", "", "append every notification the simulator accepts to this file, as JSON lines")
	fs.BoolVar(&f.noDemo, "no-demo", false, "do not seed demo users or publish demo messages")
	fs.BoolVar(&f.verbose, "v", false, "log the worker at info level (default: warnings only)")
	return f, fs.Parse(args)
}

// devRedis returns the Redis of dev mode: the given URL, or an in-process miniredis.
func devRedis(url string) (redis.UniversalClient, string, func(), error) {
	if url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, "", nil, fmt.Errorf("--redis: %w", err)
		}
		c := redis.NewClient(opts)
		return c, opts.Addr, func() { _ = c.Close() }, nil
	}
	mr, err := miniredis.Run()
	if err != nil {
		return nil, "", nil, fmt.Errorf("start in-process Redis: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return c, mr.Addr() + " (in-process)", func() { _ = c.Close(); mr.Close() }, nil
}

// Demo credentials, mirroring the product specification's example busiIds.
const (
	devKeyID  = "DEVKEY0001"
	devTeamID = "DEVTEAM001"
)

// devSimulatorAndConfig generates the demo certificates, starts the simulator trusting them,
// and returns a validated configuration pointing the worker at both.
func devSimulatorAndConfig(dir string, f devFlags, printer *pushPrinter) (*apnssim.Server, config.Config, error) {
	notAfter := time.Now().AddDate(1, 0, 0)
	prod, err := certgen.GenerateP12(dir, "com.example.im", "dev-password", true, notAfter)
	if err != nil {
		return nil, config.Config{}, err
	}
	devel, err := certgen.GenerateP12(dir, "com.example.im", "dev-password", false, notAfter)
	if err != nil {
		return nil, config.Config{}, err
	}
	voip, err := certgen.GenerateP12(dir, "com.example.im.voip", "dev-password", true, notAfter)
	if err != nil {
		return nil, config.Config{}, err
	}
	p8, key, err := certgen.GenerateP8(dir)
	if err != nil {
		return nil, config.Config{}, err
	}
	var deliveries io.Writer = printer
	if f.deliveries != "" {
		file, err := os.OpenFile(f.deliveries, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, config.Config{}, fmt.Errorf("--deliveries: %w", err)
		}
		deliveries = io.MultiWriter(printer, file)
	}
	sim, err := apnssim.New(apnssim.Options{
		Addr: f.apnsAddr, Keys: map[string]*ecdsa.PublicKey{devKeyID: &key.PublicKey}, TeamID: devTeamID,
		Deliveries: deliveries,
	})
	if err != nil {
		return nil, config.Config{}, fmt.Errorf("start APNs simulator on %s: %w", f.apnsAddr, err)
	}
	sim.Start()
	caFile := filepath.Join(dir, "sim-ca.pem")
	if err := os.WriteFile(caFile, sim.CAPEM(), 0o600); err != nil {
		sim.Close()
		return nil, config.Config{}, err
	}
	cfg := devConfig(f, sim.URL(), caFile, prod, devel, voip, p8)
	if err := cfg.Validate(); err != nil {
		sim.Close()
		return nil, config.Config{}, fmt.Errorf("dev configuration: %w", err)
	}
	return sim, cfg, nil
}

func devConfig(f devFlags, simURL, caFile, prodP12, devP12, voipP12, p8 string) config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = []string{f.kafkaAddr}
	cfg.Kafka.GroupID = "offpush-dev"
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.APNs.Host, cfg.APNs.CAFile = simURL, caFile
	cfg.APNs.Certificates = []config.Certificate{
		{ID: 2382, BundleID: "com.example.im", Environment: config.Production, P12File: prodP12, P12Password: "dev-password"},
		{ID: 2383, BundleID: "com.example.im", Environment: config.Development, P12File: devP12, P12Password: "dev-password"},
		{ID: 2516, BundleID: "com.example.im.enterprise", Environment: config.Production, KeyFile: p8, KeyID: devKeyID, TeamID: devTeamID},
		{ID: 2390, BundleID: "com.example.im", Environment: config.Production, P12File: voipP12, P12Password: "dev-password", VoIP: true},
	}
	cfg.Pipeline.ShutdownGrace = 5 * time.Second
	cfg.API.Addr, cfg.API.Tokens = f.apiAddr, []string{f.apiToken}
	cfg.Ops.Addr = f.opsAddr
	return cfg
}
