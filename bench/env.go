package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/apnssim"
	"offpush/embedkafka"
	"offpush/internal/testenv"
)

// stopGrace is how long a child may take to stop before it is killed.
const stopGrace = 10 * time.Second

// env is the system under load: Kafka, Redis and the simulator, each in a child process
// unless --brokers/--redis name running ones, and the certificate the simulator accepts.
type env struct {
	cfg       *config
	stderr    io.Writer
	dir       string
	brokers   []string
	kafka     *proc           // nil with --brokers
	redis     *testenv.Server // nil with --redis
	rdb       *redis.Client
	sim       *proc
	simURL    string
	simCA     *x509.CertPool
	simCAFile string // the simulator's CA, PEM
	cert      tls.Certificate
	// deliveries is the simulator's --deliveries file: every accepted push as a JSON line.
	deliveries string
	// topic, dlq and group are the current window's (openTopics).
	topic, dlq, group string
}

// startEnv starts what cfg asks for; on error nothing is left running.
func startEnv(ctx context.Context, cfg *config, stderr io.Writer) (*env, error) {
	dir, err := os.MkdirTemp("", "offpush-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, stderr: stderr, dir: dir, deliveries: filepath.Join(dir, "deliveries.jsonl")}
	for _, start := range []func(context.Context) error{e.startKafka, e.startRedis, e.startSim} {
		if err := start(ctx); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

func (e *env) startKafka(context.Context) error {
	e.brokers = e.cfg.brokerList()
	if e.brokers != nil {
		return nil
	}
	p, err := startChild(childSpec{Role: roleKafka}, nil, e.stderr)
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
	return nil
}

// openTopics creates run's events and dead-letter topics and makes them, with run's consumer
// group, the current ones: each window reads its own.
func (e *env) openTopics(ctx context.Context, run string) error {
	e.topic, e.dlq, e.group = "offpush-bench-"+run, "offpush-bench-"+run+".dlq", "offpush-bench-"+run
	c := &embedkafka.Cluster{Brokers: e.brokers}
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
		s, err := startRedis(ctx, e.dir)
		if err != nil {
			return err
		}
		e.redis, addr = s, s.Addr
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: addr})
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", addr, err)
	}
	return nil
}

func (e *env) startSim(context.Context) error {
	caFile := filepath.Join(e.dir, "ca.pem")
	args := []string{"--addr", "127.0.0.1:0", "--quiet", "--ca-out", caFile, "--deliveries", e.deliveries,
		"--latency", e.cfg.apnsRTT.String(), "--latency-jitter", e.cfg.apnsRTTJitter.String()}
	p, err := startChild(childSpec{Role: roleSim, SimArgs: args}, nil, e.stderr)
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
	e.simCAFile = caFile
	e.simCA = x509.NewCertPool()
	e.simCA.AppendCertsFromPEM(pem)
	if e.cert, err = apnssim.ClientCertificate(topic); err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	return nil
}

// setSimLatency sets the simulator's answer delay (rtt plus [0, jitter)) through its
// control API.
func (e *env) setSimLatency(ctx context.Context, rtt, jitter time.Duration) error {
	body := fmt.Sprintf(`{"ms":%g,"jitterMs":%g}`, millis(rtt), millis(jitter))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.simURL+"/sim/latency", strings.NewReader(body))
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.simCA}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("simulator latency: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("simulator latency: %s %s", resp.Status, msg)
	}
	return nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// producer is a producer child publishing to the current events topic; its stdout is kept
// for the count of events it published.
type producer struct {
	p      *proc
	stdout bytes.Buffer
}

// startProducer starts a producer child for s on the current events topic.
func (e *env) startProducer(s produceSpec) (*producer, error) {
	s.Brokers, s.Topic = e.brokers, e.topic
	pr := &producer{}
	p, err := startChild(childSpec{Role: roleProduce, Produce: &s}, &pr.stdout, e.stderr)
	pr.p = p
	return pr, err
}

// produce publishes events [from, to) of w as fast as it can and waits until they are in.
func (e *env) produce(ctx context.Context, w *workload, from, to int) error {
	p, err := e.startProducer(produceSpec{From: from, To: to, Workload: *w})
	if err != nil {
		return err
	}
	_, err = p.wait(ctx)
	return err
}

// wait waits for the producer to exit by itself and returns the number of events it published.
func (pr *producer) wait(ctx context.Context) (int, error) {
	if err := pr.p.wait(ctx); err != nil {
		return 0, err
	}
	return pr.count()
}

// stop stops an UntilStopped producer and returns the number of events it published.
func (pr *producer) stop() (int, error) {
	pr.p.stop(stopGrace)
	if err := pr.p.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", pr.p.Name, err)
	}
	return pr.count()
}

// count reads the producer's last line, once it exited.
func (pr *producer) count() (int, error) {
	var n int
	if _, err := fmt.Sscanf(pr.stdout.String(), producedLine, &n); err != nil {
		return 0, fmt.Errorf("producer said %q: %w", pr.stdout.String(), err)
	}
	return n, nil
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
	if e.redis != nil {
		e.redis.Kill()
	}
	_ = os.RemoveAll(e.dir)
}

// snapshot is the clock and the CPU counters of every process at one instant.
type snapshot struct {
	at                time.Time
	cpu               time.Duration // this process
	rss               int64         // this process's peak, bytes
	sim, kafka, redis time.Duration
	gc                gcStats // this process
}

func (e *env) snapshot() snapshot {
	s := snapshot{at: time.Now(), sim: e.sim.cpu(), kafka: e.kafka.cpu()}
	if e.redis != nil {
		s.redis, _ = e.redis.CPU() // 0 when unknown
	}
	s.cpu, s.rss, _ = selfUsage()
	s.gc = readGC()
	return s
}

// gcStats are the runtime's garbage-collector figures of this process.
type gcStats struct {
	cpu    time.Duration // GC CPU time (mark assists, background marking, pauses), estimated by the runtime
	cycles uint64
	live   uint64        // heap marked live by the last cycle, bytes
	goal   uint64        // heap size at which the next cycle starts, bytes
	idle   time.Duration // of cpu: marking on otherwise idle processors
	stacks uint64        // goroutine stacks, bytes
}

var gcSamples = []string{"/cpu/classes/gc/total:cpu-seconds", "/gc/cycles/total:gc-cycles",
	"/gc/heap/live:bytes", "/gc/heap/goal:bytes", "/cpu/classes/gc/mark/idle:cpu-seconds",
	"/memory/classes/heap/stacks:bytes"}

func readGC() gcStats {
	ss := make([]metrics.Sample, len(gcSamples))
	for i, n := range gcSamples {
		ss[i].Name = n
	}
	metrics.Read(ss)
	var g gcStats
	if ss[0].Value.Kind() == metrics.KindFloat64 {
		g.cpu = time.Duration(ss[0].Value.Float64() * float64(time.Second))
	}
	if ss[1].Value.Kind() == metrics.KindUint64 {
		g.cycles = ss[1].Value.Uint64()
	}
	if ss[2].Value.Kind() == metrics.KindUint64 {
		g.live = ss[2].Value.Uint64()
	}
	if ss[3].Value.Kind() == metrics.KindUint64 {
		g.goal = ss[3].Value.Uint64()
	}
	if ss[4].Value.Kind() == metrics.KindFloat64 {
		g.idle = time.Duration(ss[4].Value.Float64() * float64(time.Second))
	}
	if ss[5].Value.Kind() == metrics.KindUint64 {
		g.stacks = ss[5].Value.Uint64()
	}
	return g
}
