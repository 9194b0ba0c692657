package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/apns/apnstest"
	"offpush/pipeline/kafkatest"
)

// stopGrace is how long a child may take to stop before it is killed.
const stopGrace = 10 * time.Second

// env is the system under load: Kafka, Redis and the simulator, each in a child process
// unless --brokers/--redis name running ones, and the certificate the simulator accepts.
type env struct {
	cfg     *config
	stderr  io.Writer
	dir     string
	brokers []string
	kafka   *proc // nil with --brokers
	redis   *proc // nil with --redis
	rdb     *redis.Client
	sim     *proc
	simURL  string
	simCA   *x509.CertPool
	cert    tls.Certificate
	// deliveries is the simulator's --deliveries file: every accepted push as a JSON line.
	deliveries        string
	topic, dlq, group string
}

// startEnv starts what cfg asks for; on error nothing is left running.
func startEnv(ctx context.Context, cfg *config, run string, stderr io.Writer) (*env, error) {
	dir, err := os.MkdirTemp("", "offpush-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, stderr: stderr, dir: dir, deliveries: filepath.Join(dir, "deliveries.jsonl"),
		topic: "offpush-bench-" + run, dlq: "offpush-bench-" + run + ".dlq", group: "offpush-bench-" + run}
	for _, start := range []func(context.Context) error{e.startKafka, e.startRedis, e.startSim} {
		if err := start(ctx); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

func (e *env) startKafka(ctx context.Context) error {
	e.brokers = e.cfg.brokerList()
	if e.brokers == nil {
		p, err := startChild(childSpec{Role: roleKafka}, e.stderr)
		if err != nil {
			return err
		}
		e.kafka = p
		addrs, err := p.readLine("kafka: listening on ")
		if err != nil {
			return err
		}
		p.drain()
		e.brokers = strings.Split(addrs, ",")
	}
	c := &kafkatest.Cluster{Brokers: e.brokers}
	if err := c.CreateTopic(ctx, e.topic, e.cfg.partitions); err != nil {
		return fmt.Errorf("create topic %s: %w", e.topic, err)
	}
	if err := c.CreateTopic(ctx, e.dlq, 1); err != nil {
		return fmt.Errorf("create topic %s: %w", e.dlq, err)
	}
	return nil
}

func (e *env) startRedis(ctx context.Context) error {
	addr := e.cfg.redisAddr
	if addr == "" {
		p, a, err := startRedis(ctx, e.dir)
		if err != nil {
			return err
		}
		e.redis, addr = p, a
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: addr})
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", addr, err)
	}
	return nil
}

func (e *env) startSim(context.Context) error {
	caFile := filepath.Join(e.dir, "ca.pem")
	p, err := startChild(childSpec{Role: roleSim, SimArgs: []string{
		"--addr", "127.0.0.1:0", "--quiet", "--ca-out", caFile, "--deliveries", e.deliveries,
	}}, e.stderr)
	if err != nil {
		return err
	}
	e.sim = p
	if e.simURL, err = p.readLine("apns-sim: listening on "); err != nil {
		return err
	}
	p.drain()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("simulator CA: %w", err)
	}
	e.simCA = x509.NewCertPool()
	e.simCA.AppendCertsFromPEM(pem)
	if e.cert, err = apnstest.ClientCertificate(topic); err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	return nil
}

// startProducer publishes events [from, to) of w from a child process, at rate events/s
// (0: as fast as it can).
func (e *env) startProducer(w *workload, from, to int, rate float64) (*proc, error) {
	p, err := startChild(childSpec{Role: roleProduce, Produce: &produceSpec{
		Brokers: e.brokers, Topic: e.topic, From: from, To: to, Rate: rate, Workload: *w,
	}}, e.stderr)
	if err != nil {
		return nil, err
	}
	p.drain()
	return p, nil
}

// produce publishes events [from, to) of w as fast as it can and waits until they are in.
func (e *env) produce(ctx context.Context, w *workload, from, to int) error {
	p, err := e.startProducer(w, from, to, 0)
	if err != nil {
		return err
	}
	return p.wait(ctx)
}

// stopSim stops the simulator, which flushes its deliveries file.
func (e *env) stopSim() {
	e.sim.stop(stopGrace)
	e.sim = nil
}

// close stops every child and removes the temporary files.
func (e *env) close() {
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
	e.sim.stop(stopGrace)
	e.kafka.stop(stopGrace)
	e.redis.kill()
	_ = os.RemoveAll(e.dir)
}

// snapshot is the clock and the CPU counters of every process at one instant.
type snapshot struct {
	at                time.Time
	cpu               time.Duration // this process
	rss               int64         // this process's peak, bytes
	sim, kafka, redis time.Duration
}

func (e *env) snapshot() snapshot {
	s := snapshot{at: time.Now(), sim: e.sim.cpu(), kafka: e.kafka.cpu(), redis: e.redis.cpu()}
	s.cpu, s.rss, _ = selfUsage()
	return s
}
