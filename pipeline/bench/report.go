package bench

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"

	"offpush/pipeline"
)

// Result is what `offpush bench` measured; its JSON keys are the contract of issue 5 that
// scripts compare runs by. Figures that cannot be computed (per push when nothing was sent,
// a child's CPU when it is not ours) are 0.
type Result struct {
	EventsPerS              float64 `json:"events_per_s"`
	PushesPerS              float64 `json:"pushes_per_s"`
	RecipientsPerS          float64 `json:"recipients_per_s"`
	WorkerCPUUsPerPush      float64 `json:"worker_cpu_us_per_push"`
	WorkerCPUUsPerRecipient float64 `json:"worker_cpu_us_per_recipient"`
	WorkerCPUUsPerEvent     float64 `json:"worker_cpu_us_per_event"`
	WorkerCores             float64 `json:"worker_cores"` // worker CPU time / window
	P50Ms                   float64 `json:"p50_ms"`
	P99Ms                   float64 `json:"p99_ms"`
	P999Ms                  float64 `json:"p999_ms"`
	LatencySamples          int     `json:"latency_samples"`
	C2CP50Ms                float64 `json:"c2c_p50_ms"` // pushes of one-to-one events only
	C2CP99Ms                float64 `json:"c2c_p99_ms"`
	LatencyKind             string  `json:"latency_kind"` // "backlog" (all events published first) or "rate"
	PeakRSSMB               float64 `json:"peak_rss_mb"`

	BaselinePushesPerS         float64 `json:"baseline_pushes_per_s"`
	BaselineCPUUsPerPush       float64 `json:"baseline_cpu_us_per_push"`
	BaselineSimCPUUsPerRequest float64 `json:"baseline_sim_cpu_us_per_request"`
	RatioPushes                float64 `json:"ratio_pushes"`
	RatioCPU                   float64 `json:"ratio_cpu"`

	SimCPUUsPerRequest     float64 `json:"sim_cpu_us_per_request"`
	KafkaCPUUsPerEvent     float64 `json:"kafka_cpu_us_per_event"`
	RedisCPUUsPerRecipient float64 `json:"redis_cpu_us_per_recipient"`

	Events            int64            `json:"events"`
	Recipients        int64            `json:"recipients"`
	Pushes            int64            `json:"pushes"` // sent
	Outcomes          map[string]int64 `json:"outcomes"`
	ExpectedOutcomes  int64            `json:"expected_outcomes"`
	ForegroundDevices int              `json:"foreground_devices"`
	WindowS           float64          `json:"window_s"`
	WorkerCPUS        float64          `json:"worker_cpu_s"`
	SeedS             float64          `json:"seed_s"`
	BaselinePushes    int              `json:"baseline_pushes"`
	BaselineS         float64          `json:"baseline_s"`
	LatencyFromEvent  int              `json:"-"`

	Params       Params     `json:"params"`
	GoVersion    string     `json:"go_version"`
	GOMAXPROCS   int        `json:"gomaxprocs"`
	NumCPU       int        `json:"num_cpu"`
	LoadAvgStart [3]float64 `json:"load_avg_start"`
	LoadAvgEnd   [3]float64 `json:"load_avg_end"`
}

// Params are the run's parameters.
type Params struct {
	Profile            string  `json:"profile"`
	Events             int     `json:"events"`
	Users              int     `json:"users"`
	DevicesPerUser     int     `json:"devices_per_user"`
	GroupShare         float64 `json:"group_share"`
	GroupMin           int     `json:"group_min"`
	GroupMax           int     `json:"group_max"`
	Foreground         float64 `json:"foreground"`
	PayloadBytes       int     `json:"payload_bytes"`
	Rate               float64 `json:"rate"`
	Senders            int     `json:"senders"`
	Connections        int     `json:"connections"`
	Transport          string  `json:"transport"` // the worker's HTTP/2 client (apns.Options.Transport)
	EventWorkers       int     `json:"event_workers"`
	Partitions         int     `json:"partitions"`
	BaselineGoroutines int     `json:"baseline_goroutines"`
	Kafka              string  `json:"kafka"`
	Redis              string  `json:"redis"`
	Seed               uint64  `json:"seed"`
	CPUProfile         bool    `json:"cpu_profile"` // the profiler's own cost is in the CPU figures
}

func newResult(c *config, w *workload) *Result {
	r := &Result{
		Params: Params{
			Profile: c.profile, Events: c.events, Users: c.users, DevicesPerUser: c.devices,
			GroupShare: c.groupShare, GroupMin: c.groupMin, GroupMax: c.groupMax,
			Foreground: c.foregroundShare(), PayloadBytes: c.payloadBytes, Rate: c.rate,
			Senders: c.senders, Connections: c.connections, Transport: c.transportName(), EventWorkers: c.eventWorkers,
			Partitions: c.partitions, BaselineGoroutines: c.baselineConcurrency,
			Kafka: "kfake (child process)", Redis: "redis-server (child process)",
			Seed: w.Seed, CPUProfile: c.cpuProfile != "",
		},
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		LoadAvgStart: loadAvg(), LatencyKind: "backlog",
	}
	if c.brokers != "" {
		r.Params.Kafka = c.brokers
	}
	if c.redisAddr != "" {
		r.Params.Redis = c.redisAddr
	}
	if c.rate > 0 {
		r.LatencyKind, r.LatencyFromEvent = "rate", 1 // event 0 waited for the group join
	}
	return r
}

// per is a per-item figure in µs, 0 without items.
func per(d time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *Result) setWorker(w window) {
	d, cpu := w.end.at.Sub(w.start.at), w.end.cpu-w.start.cpu
	c := w.counts
	r.Events, r.Recipients, r.Outcomes = c.events, c.recipients, c.outcomes
	r.Pushes = c.outcomes[pipeline.OutcomeSent]
	r.WindowS, r.WorkerCPUS = d.Seconds(), cpu.Seconds()
	r.WorkerCores = ratio(cpu.Seconds(), d.Seconds())
	r.EventsPerS, r.PushesPerS, r.RecipientsPerS = rate(c.events, d), rate(r.Pushes, d), rate(c.recipients, d)
	r.WorkerCPUUsPerPush = per(cpu, r.Pushes)
	r.WorkerCPUUsPerRecipient = per(cpu, c.recipients)
	r.WorkerCPUUsPerEvent = per(cpu, c.events)
	r.SimCPUUsPerRequest = per(w.end.sim-w.start.sim, r.Pushes)
	r.KafkaCPUUsPerEvent = per(w.end.kafka-w.start.kafka, c.events)
	r.RedisCPUUsPerRecipient = per(w.end.redis-w.start.redis, c.recipients)
	r.PeakRSSMB = float64(w.end.rss) / (1 << 20)
}

func (r *Result) setBaseline(b baseline) {
	d, cpu := b.end.at.Sub(b.start.at), b.end.cpu-b.start.cpu
	n := int64(b.pushes)
	r.BaselinePushes, r.BaselineS = b.pushes, d.Seconds()
	r.BaselinePushesPerS = rate(n, d)
	r.BaselineCPUUsPerPush = per(cpu, n)
	r.BaselineSimCPUUsPerRequest = per(b.end.sim-b.start.sim, n)
	r.RatioPushes = ratio(r.PushesPerS, r.BaselinePushesPerS)
	r.RatioCPU = ratio(r.WorkerCPUUsPerPush, r.BaselineCPUUsPerPush)
}

func (r *Result) setLatency(l latency) {
	r.P50Ms, r.P99Ms, r.P999Ms, r.LatencySamples = l.all.p50, l.all.p99, l.all.p999, l.all.samples
	r.C2CP50Ms, r.C2CP99Ms = l.c2c.p50, l.c2c.p99
	r.LoadAvgEnd = loadAvg()
}

// writeTable prints the human summary.
func writeTable(out io.Writer, r *Result) {
	p := r.Params
	fmt.Fprintf(out, "offpush bench  %s  GOMAXPROCS=%d  CPUs=%d  load %.2f→%.2f\n", r.GoVersion, r.GOMAXPROCS, r.NumCPU, r.LoadAvgStart[0], r.LoadAvgEnd[0])
	fmt.Fprintf(out, "profile %s: %d events (%.0f%% groups of %d..%d), %d users × %d devices, %.0f%% foreground, %d B text, rate %s\n\n",
		p.Profile, p.Events, 100*p.GroupShare, p.GroupMin, p.GroupMax, p.Users, p.DevicesPerUser, 100*p.Foreground, p.PayloadBytes, rateText(p.Rate))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tworker\tbaseline (apns2)\tratio\t")
	fmt.Fprintf(tw, "pushes/s\t%.0f\t%.0f\t%.2f\t\n", r.PushesPerS, r.BaselinePushesPerS, r.RatioPushes)
	fmt.Fprintf(tw, "CPU µs/push\t%.1f\t%.1f\t%.2f\t\n", r.WorkerCPUUsPerPush, r.BaselineCPUUsPerPush, r.RatioCPU)
	fmt.Fprintf(tw, "simulator CPU µs/request\t%.1f\t%.1f\t\t\n", r.SimCPUUsPerRequest, r.BaselineSimCPUUsPerRequest)
	fmt.Fprintf(tw, "pushes\t%d\t%d\t\t\n", r.Pushes, r.BaselinePushes)
	tw.Flush()
	fmt.Fprintf(out, "\nevents/s %.1f   recipients/s %.0f   worker CPU µs/recipient %.2f   µs/event %.1f   cores %.2f\n",
		r.EventsPerS, r.RecipientsPerS, r.WorkerCPUUsPerRecipient, r.WorkerCPUUsPerEvent, r.WorkerCores)
	fmt.Fprintf(out, "latency (%s, %d pushes) p50 %.1f ms  p99 %.1f ms  p99.9 %.1f ms   one-to-one only: p50 %.1f ms  p99 %.1f ms\n",
		r.LatencyKind, r.LatencySamples, r.P50Ms, r.P99Ms, r.P999Ms, r.C2CP50Ms, r.C2CP99Ms)
	fmt.Fprintf(out, "peak RSS %.0f MB   window %.1f s   outcomes %v\n", r.PeakRSSMB, r.WindowS, r.Outcomes)
	fmt.Fprintf(out, "other processes: kafka %.1f µs/event, redis %.2f µs/recipient\n", r.KafkaCPUUsPerEvent, r.RedisCPUUsPerRecipient)
}

func rateText(r float64) string {
	if r <= 0 {
		return "max (all published first)"
	}
	return fmt.Sprintf("%.0f events/s", r)
}
