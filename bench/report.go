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
	C2CP90Ms                float64 `json:"c2c_p90_ms"`
	C2CP99Ms                float64 `json:"c2c_p99_ms"`
	C2CMaxMs                float64 `json:"c2c_max_ms"`
	C2CLatencySamples       int     `json:"c2c_latency_samples"`
	GroupP50Ms              float64 `json:"group_p50_ms"` // pushes of group events only
	GroupP90Ms              float64 `json:"group_p90_ms"`
	GroupP99Ms              float64 `json:"group_p99_ms"`
	GroupMaxMs              float64 `json:"group_max_ms"`
	GroupLatencySamples     int     `json:"group_latency_samples"`
	GroupPushesPerS         float64 `json:"group_pushes_per_s"` // from the first group push to reach the simulator to the last
	LatencyKind             string  `json:"latency_kind"`       // "backlog" (all events published first) or "rate"
	PeakRSSMB               float64 `json:"peak_rss_mb"`
	// The Go garbage collector in the worker's process over the window: its share of the
	// worker CPU (the runtime's estimate), its cycles, and the live heap and heap goal at the
	// window's end.
	GCCPUShare  float64 `json:"gc_cpu_share"`
	GCIdleShare float64 `json:"gc_idle_share"` // of GCCPUShare: marking on otherwise idle processors
	GCCycles    uint64  `json:"gc_cycles"`
	HeapLiveMB  float64 `json:"heap_live_mb"`
	HeapGoalMB  float64 `json:"heap_goal_mb"`
	StacksMB    float64 `json:"stacks_mb"`
	// RedisBytesPerPush is the growth of Redis's used_memory (less its clients' buffers) from
	// before the worker started to after it stopped, per push sent: what the pipeline leaves
	// in Redis (dedupe records).
	RedisBytesPerPush  float64 `json:"redis_bytes_per_push"`
	RedisRetainedBytes int64   `json:"redis_retained_bytes"`

	// The worker's window at 0 ms round trip, run first with --compare-rtt on the same
	// workload (its own run id, topic and consumer group); the figures above are at --apns-rtt.
	ZeroRTTPushesPerS         float64 `json:"zero_rtt_pushes_per_s,omitempty"`
	ZeroRTTWorkerCPUUsPerPush float64 `json:"zero_rtt_worker_cpu_us_per_push,omitempty"`
	ZeroRTTSimCPUUsPerRequest float64 `json:"zero_rtt_sim_cpu_us_per_request,omitempty"`
	ZeroRTTPushes             int64   `json:"zero_rtt_pushes,omitempty"`
	ZeroRTTWindowS            float64 `json:"zero_rtt_window_s,omitempty"`
	ZeroRTTGCCPUShare         float64 `json:"zero_rtt_gc_cpu_share,omitempty"`
	RatioRTTPushes            float64 `json:"ratio_rtt_pushes,omitempty"` // pushes/s at --apns-rtt / at 0 ms
	RatioRTTCPU               float64 `json:"ratio_rtt_cpu,omitempty"`    // CPU/push at --apns-rtt / at 0 ms

	BaselinePushesPerS         float64 `json:"baseline_pushes_per_s"`
	BaselineCPUUsPerPush       float64 `json:"baseline_cpu_us_per_push"`
	BaselineSimCPUUsPerRequest float64 `json:"baseline_sim_cpu_us_per_request"`
	RatioPushes                float64 `json:"ratio_pushes"`
	RatioCPU                   float64 `json:"ratio_cpu"`

	SimCPUUsPerRequest     float64 `json:"sim_cpu_us_per_request"`
	KafkaCPUUsPerEvent     float64 `json:"kafka_cpu_us_per_event"`
	RedisCPUUsPerRecipient float64 `json:"redis_cpu_us_per_recipient"`

	// BigGroups compares membership with recipient lists (--profile big-groups).
	BigGroups *BigGroupsResult `json:"big_groups,omitempty"`

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
	HotGroupMembers    int     `json:"hot_group_members,omitempty"`
	HotGroupMessages   int     `json:"hot_group_messages,omitempty"`
	C2CRate            float64 `json:"c2c_rate,omitempty"` // hot-group: one-to-one events/s
	APNsRTTMs          float64 `json:"apns_rtt_ms"`        // the simulator's answer delay (the baseline's is 0)
	APNsRTTJitterMs    float64 `json:"apns_rtt_jitter_ms"` // plus a uniform random [0, jitter)
	CompareRTT         bool    `json:"compare_rtt"`
	Connections        int     `json:"connections"`
	Transport          string  `json:"transport"` // the worker's HTTP/2 client (apns.Options.Transport)
	Partitions         int     `json:"partitions"`
	BaselineGoroutines int     `json:"baseline_goroutines"`
	Kafka              string  `json:"kafka"`
	Redis              string  `json:"redis"`
	Seed               uint64  `json:"seed"`
	CPUProfile         bool    `json:"cpu_profile"` // the profiler's own cost is in the CPU figures
}

func newResult(c *config, w *workload) *Result {
	r := &Result{
		Params:    newParams(c, w),
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		LoadAvgStart: loadAvg(), LatencyKind: "backlog",
	}
	if c.paced() {
		r.LatencyKind, r.LatencyFromEvent = "rate", 1 // event 0 waited for the group join
	}
	return r
}

func newParams(c *config, w *workload) Params {
	p := Params{
		Profile: c.profile, Events: w.Events, Users: c.users, DevicesPerUser: c.devices,
		GroupShare: w.GroupShare, GroupMin: c.groupMin, GroupMax: c.groupMax,
		Foreground: c.foregroundShare(), PayloadBytes: c.payloadBytes, Rate: c.rate,
		APNsRTTMs: millis(c.apnsRTT), APNsRTTJitterMs: millis(c.apnsRTTJitter), CompareRTT: c.compareRTT,
		Connections: c.connections, Transport: c.transportName(),
		Partitions: c.partitions, BaselineGoroutines: c.baselineConcurrency,
		Kafka: "kfake (child process)", Redis: "redis-server (child process)",
		Seed: w.Seed, CPUProfile: c.cpuProfile != "",
	}
	if c.profile == profileHotGroup {
		p.HotGroupMembers, p.HotGroupMessages, p.C2CRate = c.hotMembers, c.hotMessages, c.c2cRate
	}
	if c.brokers != "" {
		p.Kafka = c.brokers
	}
	if c.redisAddr != "" {
		p.Redis = c.redisAddr
	}
	return p
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

// setWorker records the window at --apns-rtt of workload wl.
func (r *Result) setWorker(w window, wl *workload) {
	d, cpu := w.end.at.Sub(w.start.at), w.end.cpu-w.start.cpu
	c := w.counts
	r.Params.Events, r.ExpectedOutcomes = w.published, wl.outcomes(w.published)
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
	r.GCCPUShare = ratio((w.end.gc.cpu - w.start.gc.cpu).Seconds(), cpu.Seconds())
	r.GCIdleShare = ratio((w.end.gc.idle - w.start.gc.idle).Seconds(), cpu.Seconds())
	r.GCCycles = w.end.gc.cycles - w.start.gc.cycles
	r.StacksMB = float64(w.end.gc.stacks) / (1 << 20)
	r.HeapLiveMB, r.HeapGoalMB = float64(w.end.gc.live)/(1<<20), float64(w.end.gc.goal)/(1<<20)
	r.RedisRetainedBytes = w.redisAfter - w.redisBefore
	if r.Pushes > 0 {
		r.RedisBytesPerPush = float64(r.RedisRetainedBytes) / float64(r.Pushes)
	}
}

// setZeroRTT records the --compare-rtt window at 0 ms; call it after setWorker.
func (r *Result) setZeroRTT(w window) {
	d, cpu := w.end.at.Sub(w.start.at), w.end.cpu-w.start.cpu
	r.ZeroRTTPushes = w.counts.outcomes[pipeline.OutcomeSent]
	r.ZeroRTTWindowS = d.Seconds()
	r.ZeroRTTPushesPerS = rate(r.ZeroRTTPushes, d)
	r.ZeroRTTWorkerCPUUsPerPush = per(cpu, r.ZeroRTTPushes)
	r.ZeroRTTSimCPUUsPerRequest = per(w.end.sim-w.start.sim, r.ZeroRTTPushes)
	r.ZeroRTTGCCPUShare = ratio((w.end.gc.cpu - w.start.gc.cpu).Seconds(), cpu.Seconds())
	r.RatioRTTPushes = ratio(r.PushesPerS, r.ZeroRTTPushesPerS)
	r.RatioRTTCPU = ratio(r.WorkerCPUUsPerPush, r.ZeroRTTWorkerCPUUsPerPush)
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
	r.C2CP50Ms, r.C2CP90Ms, r.C2CP99Ms, r.C2CMaxMs, r.C2CLatencySamples = l.c2c.p50, l.c2c.p90, l.c2c.p99, l.c2c.max, l.c2c.samples
	r.GroupP50Ms, r.GroupP90Ms, r.GroupP99Ms, r.GroupMaxMs = l.group.p50, l.group.p90, l.group.p99, l.group.max
	r.GroupLatencySamples, r.GroupPushesPerS = l.group.samples, l.groupPushesPerS
	r.LoadAvgEnd = loadAvg()
}

// writeTable prints the human summary.
func writeTable(out io.Writer, r *Result) {
	fmt.Fprintf(out, "offpush bench  %s  GOMAXPROCS=%d  CPUs=%d  load %.2f→%.2f\n", r.GoVersion, r.GOMAXPROCS, r.NumCPU, r.LoadAvgStart[0], r.LoadAvgEnd[0])
	fmt.Fprintf(out, "%s\nAPNs round trip %s (the baseline's: 0)\n\n", workloadText(r.Params), rttText(r.Params))
	writeComparison(out, r)
	fmt.Fprintf(out, "\nevents/s %.1f   recipients/s %.0f   worker CPU µs/recipient %.2f   µs/event %.1f   cores %.2f\n",
		r.EventsPerS, r.RecipientsPerS, r.WorkerCPUUsPerRecipient, r.WorkerCPUUsPerEvent, r.WorkerCores)
	fmt.Fprintf(out, "latency (%s, %d pushes) p50 %.1f ms  p99 %.1f ms  p99.9 %.1f ms\n",
		r.LatencyKind, r.LatencySamples, r.P50Ms, r.P99Ms, r.P999Ms)
	fmt.Fprintf(out, "  one-to-one (%d pushes) p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n",
		r.C2CLatencySamples, r.C2CP50Ms, r.C2CP90Ms, r.C2CP99Ms, r.C2CMaxMs)
	fmt.Fprintf(out, "  group (%d pushes) p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms   group pushes/s %.0f\n",
		r.GroupLatencySamples, r.GroupP50Ms, r.GroupP90Ms, r.GroupP99Ms, r.GroupMaxMs, r.GroupPushesPerS)
	fmt.Fprintf(out, "peak RSS %.0f MB   redis retained %.1f B/push (%+d B)   window %.1f s   outcomes %v\n",
		r.PeakRSSMB, r.RedisBytesPerPush, r.RedisRetainedBytes, r.WindowS, r.Outcomes)
	fmt.Fprintf(out, "GC %.0f%% of worker CPU (%.0f%% on idle processors), %d cycles   at the end: heap live %.0f MB, goal %.0f MB, stacks %.0f MB\n",
		100*r.GCCPUShare, 100*r.GCIdleShare, r.GCCycles, r.HeapLiveMB, r.HeapGoalMB, r.StacksMB)
	fmt.Fprintf(out, "other processes: kafka %.1f µs/event, redis %.2f µs/recipient\n", r.KafkaCPUUsPerEvent, r.RedisCPUUsPerRecipient)
}

// writeComparison prints the worker against the baseline, and against its own window at 0 ms
// with --compare-rtt.
func writeComparison(out io.Writer, r *Result) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	zero := r.Params.CompareRTT
	row := func(name string, worker, zeroRTT, base, ratio, rttRatio string) {
		if zero {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", name, worker, zeroRTT, base, ratio, rttRatio)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, worker, base, ratio)
		}
	}
	f := func(format string, v any) string { return fmt.Sprintf(format, v) }
	row("", "worker", "worker at 0 ms", "baseline (apns2)", "ratio", "rtt / 0 ms")
	row("pushes/s", f("%.0f", r.PushesPerS), f("%.0f", r.ZeroRTTPushesPerS), f("%.0f", r.BaselinePushesPerS),
		f("%.2f", r.RatioPushes), f("%.2f", r.RatioRTTPushes))
	row("CPU µs/push", f("%.1f", r.WorkerCPUUsPerPush), f("%.1f", r.ZeroRTTWorkerCPUUsPerPush), f("%.1f", r.BaselineCPUUsPerPush),
		f("%.2f", r.RatioCPU), f("%.2f", r.RatioRTTCPU))
	row("GC share of CPU", f("%.2f", r.GCCPUShare), f("%.2f", r.ZeroRTTGCCPUShare), "", "", "")
	row("simulator CPU µs/request", f("%.1f", r.SimCPUUsPerRequest), f("%.1f", r.ZeroRTTSimCPUUsPerRequest),
		f("%.1f", r.BaselineSimCPUUsPerRequest), "", "")
	row("pushes", f("%d", r.Pushes), f("%d", r.ZeroRTTPushes), f("%d", r.BaselinePushes), "", "")
	tw.Flush()
	writeBigGroups(out, r.BigGroups)
}

// workloadText describes the profile's event mix.
func workloadText(p Params) string {
	pop := fmt.Sprintf("%d users × %d devices, %.0f%% foreground, %d B text", p.Users, p.DevicesPerUser, 100*p.Foreground, p.PayloadBytes)
	if p.Profile == profileHotGroup {
		return fmt.Sprintf("profile %s: 1 group of %d members × %d messages in one burst, one-to-one at %.0f/s alongside (%d events in all), %s",
			p.Profile, p.HotGroupMembers, p.HotGroupMessages, p.C2CRate, p.Events, pop)
	}
	return fmt.Sprintf("profile %s: %d events (%.0f%% groups of %d..%d), %s, rate %s",
		p.Profile, p.Events, 100*p.GroupShare, p.GroupMin, p.GroupMax, pop, rateText(p.Rate))
}

func rttText(p Params) string {
	d := fmt.Sprintf("%g ms", p.APNsRTTMs)
	if p.APNsRTTJitterMs > 0 {
		d += fmt.Sprintf(" + [0, %g ms)", p.APNsRTTJitterMs)
	}
	return d
}

func rateText(r float64) string {
	if r <= 0 {
		return "max (all published first)"
	}
	return fmt.Sprintf("%.0f events/s", r)
}
