package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"offpush/internal/testenv"
)

// TestMain lets this test binary serve as the bench's child processes (Kafka, simulator,
// producer), as the offpush binary does through `bench --child`.
func TestMain(m *testing.M) {
	RunChild()
	os.Exit(m.Run())
}

// requiredKeys are the JSON keys issue 5 asks for, so that runs compare by script.
var requiredKeys = []string{
	"events_per_s", "pushes_per_s", "recipients_per_s", "worker_cpu_us_per_push",
	"p50_ms", "p99_ms", "p999_ms", "peak_rss_mb",
	"baseline_pushes_per_s", "baseline_cpu_us_per_push", "ratio_pushes", "ratio_cpu",
	"sim_cpu_us_per_request", "params", "go_version", "gomaxprocs",
	"c2c_p50_ms", "c2c_p90_ms", "c2c_p99_ms", "c2c_max_ms", "c2c_latency_samples",
	"group_p50_ms", "group_p90_ms", "group_p99_ms", "group_max_ms", "group_latency_samples",
	"group_pushes_per_s", "redis_bytes_per_push", "redis_retained_bytes",
	"gc_cpu_share", "gc_idle_share", "gc_cycles", "heap_live_mb", "heap_goal_mb", "stacks_mb",
}

// runBench runs Command with args plus --json and returns the decoded JSON and stdout.
func runBench(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	testenv.LookPath(t, "redis-server", "a real Redis", "apt-get install -y redis-server")
	path := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Command(ctx, append(args, "--json", path), nil, &stdout, &stderr); err != nil {
		t.Fatalf("Command: %v\nstderr:\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("JSON: %v\n%s", err, b)
	}
	return got, stdout.String()
}

// tiny is a workload that runs in seconds: 200 events, groups of 5..20.
var tiny = []string{"--events", "200", "--users", "300", "--group-min", "5", "--group-max", "20",
	"--baseline-pushes", "300", "--baseline-goroutines", "16"}

// TestDefaultProfile runs a tiny default workload end to end: every device got an outcome,
// the foreground ones were skipped, the rest were sent, and every figure the JSON must carry
// is there with a plausible value.
func TestDefaultProfile(t *testing.T) {
	mem := filepath.Join(t.TempDir(), "mem.prof")
	got, stdout := runBench(t, append(tiny, "--memprofile", mem)...)
	for _, f := range []string{mem + ".start", mem} {
		if n, err := gunzipped(t, f); err != nil || n == 0 {
			t.Errorf("--memprofile %s: %d bytes of profile, %v", f, n, err) // pprof writes gzipped protobuf
		}
	}
	for _, k := range requiredKeys {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	for _, k := range []string{"events_per_s", "pushes_per_s", "recipients_per_s", "worker_cpu_us_per_push",
		"peak_rss_mb", "baseline_pushes_per_s", "baseline_cpu_us_per_push", "ratio_pushes", "ratio_cpu"} {
		if v, _ := got[k].(float64); v <= 0 {
			t.Errorf("%s = %v, want > 0", k, got[k])
		}
	}
	num := func(k string) float64 { v, _ := got[k].(float64); return v }
	outcomes, _ := got["outcomes"].(map[string]any)
	sent, _ := outcomes["sent"].(float64)
	skipped, _ := outcomes["skipped"].(float64)
	if num("events") != 200 || sent+skipped != num("expected_outcomes") || sent != num("pushes") || skipped == 0 {
		t.Errorf("events %v, outcomes %v, expected %v, pushes %v", got["events"], outcomes, got["expected_outcomes"], got["pushes"])
	}
	// Every sent push reached the simulator and was joined to its event.
	if num("latency_samples") != sent || num("p50_ms") <= 0 || num("p999_ms") < num("p50_ms") || num("c2c_p50_ms") <= 0 {
		t.Errorf("latency samples %v (sent %v), p50 %v, p999 %v, one-to-one p50 %v",
			got["latency_samples"], sent, got["p50_ms"], got["p999_ms"], got["c2c_p50_ms"])
	}
	if num("c2c_latency_samples")+num("group_latency_samples") != sent || num("group_max_ms") < num("group_p50_ms") ||
		num("group_pushes_per_s") <= 0 {
		t.Errorf("one-to-one %v + group %v samples, sent %v; group p50 %v max %v, pushes/s %v", got["c2c_latency_samples"],
			got["group_latency_samples"], sent, got["group_p50_ms"], got["group_max_ms"], got["group_pushes_per_s"])
	}
	if share := num("gc_cpu_share"); share < 0 || share >= 1 || num("heap_goal_mb") <= 0 || num("stacks_mb") <= 0 {
		t.Errorf("GC share %v, heap goal %v MB, stacks %v MB", got["gc_cpu_share"], got["heap_goal_mb"], got["stacks_mb"])
	}
	if !strings.Contains(stdout, "GC ") || !strings.Contains(stdout, "stacks") {
		t.Errorf("no GC line:\n%s", stdout)
	}
	if _, ok := got["zero_rtt_pushes_per_s"]; ok {
		t.Errorf("zero_rtt_pushes_per_s without --compare-rtt")
	}
	if !strings.Contains(stdout, "pushes/s") || !strings.Contains(stdout, "CPU µs/push") {
		t.Errorf("table:\n%s", stdout)
	}
}

// TestRepeat: --repeat 2 runs the bench twice, each run complete on its own, and reports
// both runs and their median.
func TestRepeat(t *testing.T) {
	got, stdout := runBench(t, append(tiny, "--repeat", "2")...)
	runs, _ := got["runs"].([]any)
	med, _ := got["median"].(map[string]any)
	if len(runs) != 2 || med == nil {
		t.Fatalf("JSON keys %v, want median and 2 runs", slices.Collect(maps.Keys(got)))
	}
	var sum float64
	for i, r := range runs {
		r, _ := r.(map[string]any)
		v, _ := r["pushes_per_s"].(float64)
		if events, _ := r["events"].(float64); v <= 0 || events != 200 {
			t.Errorf("run %d: pushes/s %v over %v events, want > 0 over 200", i+1, r["pushes_per_s"], r["events"])
		}
		sum += v
	}
	if v, _ := med["pushes_per_s"].(float64); v != sum/2 {
		t.Errorf("median pushes/s %v, want the mean of the two runs' %v", med["pushes_per_s"], sum/2)
	}
	if !strings.Contains(stdout, "median of 2 runs") || !strings.Contains(stdout, "run 2") {
		t.Errorf("no per-run table:\n%s", stdout)
	}
}

// TestSkipHeavyAtRate: with every device in the foreground nothing is sent yet every
// recipient is accounted for; --rate publishes during the run.
func TestSkipHeavyAtRate(t *testing.T) {
	got, _ := runBench(t, append(tiny, "--profile", "skip-heavy", "--rate", "400")...)
	num := func(k string) float64 { v, _ := got[k].(float64); return v }
	if num("pushes") != 0 || num("recipients") != num("expected_outcomes") || num("recipients_per_s") <= 0 {
		t.Errorf("pushes %v, recipients %v of %v, recipients/s %v", got["pushes"], got["recipients"], got["expected_outcomes"], got["recipients_per_s"])
	}
	if got["latency_kind"] != "rate" || num("worker_cpu_us_per_recipient") <= 0 {
		t.Errorf("latency kind %v, CPU per recipient %v", got["latency_kind"], got["worker_cpu_us_per_recipient"])
	}
}

// TestHotGroupAtRTT runs a small hot-group workload with a round trip, after its window at
// 0 ms: every group push and one-to-one push is accounted for, both windows are reported,
// and the pushes waited for the round trip.
func TestHotGroupAtRTT(t *testing.T) {
	got, stdout := runBench(t, "--profile", "hot-group", "--hot-group-members", "200", "--hot-group-messages", "3",
		"--users", "400", "--c2c-rate", "200", "--apns-rtt", "5ms", "--apns-rtt-jitter", "5ms", "--compare-rtt",
		"--baseline-pushes", "300", "--baseline-goroutines", "16")
	num := func(k string) float64 { v, _ := got[k].(float64); return v }
	outcomes, _ := got["outcomes"].(map[string]any)
	sent, _ := outcomes["sent"].(float64)
	skipped, _ := outcomes["skipped"].(float64)
	// The warm-up event's push (if its device is in the background) is not a latency sample.
	if sent+skipped != num("expected_outcomes") || sent != num("pushes") || sent-num("latency_samples") > 1 {
		t.Errorf("outcomes %v, expected %v, pushes %v, latency samples %v", outcomes, got["expected_outcomes"], got["pushes"], got["latency_samples"])
	}
	w := &workload{Seed: 1, Devices: 1}
	background := 0
	for u := 1; u <= 200; u++ {
		if !w.foreground(u, 0, 0.3) {
			background++
		}
	}
	if num("group_latency_samples") != float64(3*background) || num("c2c_latency_samples") != num("latency_samples")-float64(3*background) ||
		num("c2c_latency_samples") < 1 || num("group_pushes_per_s") <= 0 {
		t.Errorf("group samples %v (want %d), one-to-one %v, group pushes/s %v",
			got["group_latency_samples"], 3*background, got["c2c_latency_samples"], got["group_pushes_per_s"])
	}
	if num("c2c_p50_ms") < 5 || num("group_p50_ms") < 5 { // the simulator held every answer ≥ 5 ms
		t.Errorf("one-to-one p50 %v ms, group p50 %v ms: want ≥ the 5 ms round trip", got["c2c_p50_ms"], got["group_p50_ms"])
	}
	for _, k := range []string{"zero_rtt_pushes_per_s", "zero_rtt_worker_cpu_us_per_push", "zero_rtt_pushes", "ratio_rtt_pushes", "ratio_rtt_cpu"} {
		if num(k) <= 0 {
			t.Errorf("%s = %v, want > 0", k, got[k])
		}
	}
	params, _ := got["params"].(map[string]any)
	if params["apns_rtt_ms"] != 5.0 || params["apns_rtt_jitter_ms"] != 5.0 || params["hot_group_members"] != 200.0 || params["compare_rtt"] != true {
		t.Errorf("params %v", params)
	}
	if !strings.Contains(stdout, "worker at 0 ms") || !strings.Contains(stdout, "rtt / 0 ms") {
		t.Errorf("table:\n%s", stdout)
	}
}

// TestFlagErrors: impossible workloads are refused with the flag's name.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--group-max", "500", "--users", "100"}, "--group-max"},  // groups larger than the population
		{[]string{"--profile", "fast"}, "--profile"},                       // unknown profile
		{[]string{"--foreground", "1.5"}, "--foreground"},                  // not a share
		{[]string{"--group-min", "10", "--group-max", "5"}, "--group-min"}, // empty range
		{[]string{"--apns-rtt", "-1ms"}, "--apns-rtt:"},
		{[]string{"--apns-rtt-jitter", "-1ms"}, "--apns-rtt-jitter"},
		{[]string{"--compare-rtt"}, "--compare-rtt"},                                  // nothing to compare with
		{[]string{"--hot-group-members", "10"}, "--hot-group-members"},                // not the hot-group profile
		{[]string{"--c2c-rate", "10"}, "--c2c-rate"},                                  // idem
		{[]string{"--profile", "hot-group", "--users", "100"}, "--hot-group-members"}, // group larger than the population
		{[]string{"--profile", "hot-group", "--hot-group-messages", "0"}, "--hot-group-messages"},
		{[]string{"--profile", "hot-group", "--c2c-rate", "0"}, "--c2c-rate"},
		{[]string{"--profile", "hot-group", "--events", "100"}, "--events"}, // sized by its own flags
		{[]string{"--profile", "hot-group", "--rate", "100"}, "--rate"},
		{[]string{"--repeat", "0"}, "--repeat"},
		{[]string{"--repeat", "2", "--cpuprofile", "cpu.prof"}, "--repeat"}, // a profile is of one run
	} {
		err := Command(context.Background(), tc.args, nil, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

// deliveryLine is a line of the simulator's deliveries file.
func deliveryLine(id string, received time.Time) string {
	return `{"token":"ab","headers":{"apns-collapse-id":"` + id + `"},"payload":{"aps":{}},"receivedAt":"` +
		received.Format(time.RFC3339Nano) + `"}`
}

// TestLatencyJoin: a delivery line is joined to its event by apns-collapse-id; other
// runs' pushes, the warm-up event and lines without a collapse id are left out.
func TestLatencyJoin(t *testing.T) {
	w := &workload{Run: "bx"}
	sent := time.UnixMilli(1_700_000_000_000).UTC()
	line := func(id string, after time.Duration) string { return deliveryLine(id, sent.Add(after)) }
	for _, tc := range []struct {
		line string
		want float64 // ms; -1: not counted
	}{
		{line(w.msgID(3, sent.UnixMilli()), 12500*time.Microsecond), 12.5},                   // one of the run's pushes
		{line(w.msgID(0, sent.UnixMilli()), time.Second), -1},                                // the warm-up event
		{line("by-3-1700000000000", time.Second), -1},                                        // another run
		{line("bxz-3-1700000000000", time.Second), -1},                                       // the run's window at 0 ms
		{`{"token":"ab","headers":{},"payload":{},"receivedAt":"2026-01-01T00:00:00Z"}`, -1}, // baseline push
	} {
		got, ok := delivered([]byte(tc.line), []byte("bx-"), 1)
		if (tc.want < 0) == ok || ok && got.ms != tc.want {
			t.Errorf("%s: got %v %v, want %v", tc.line, got, ok, tc.want)
		}
	}
	l := summarize([]float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10})
	if l.p50 != 5 || l.p90 != 9 || l.p99 != 10 || l.max != 10 || l.samples != 10 {
		t.Errorf("summarize = %+v", l)
	}
}

// TestLatencySplit reads a small deliveries file of a hot-group run: the group's pushes and
// the one-to-one ones are summed up apart, and the group's rate is over its pushes' span.
func TestLatencySplit(t *testing.T) {
	w := &workload{Run: "bx", Users: 10, Devices: 1, Groups: 1, HotMembers: 4, HotMessages: 2}
	sent := time.UnixMilli(1_700_000_000_000).UTC()
	var lines []string
	add := func(i int, afterMs int) {
		lines = append(lines, deliveryLine(w.msgID(i, sent.UnixMilli()), sent.Add(time.Duration(afterMs)*time.Millisecond)))
	}
	add(0, 500) // the warm-up: left out
	for j, ms := range []int{10, 20, 30, 40, 50, 60, 70, 1010} {
		add(1+j/4, ms) // events 1 and 2: the hot group's
	}
	for j, ms := range []int{5, 1, 4, 2, 3, 6, 7, 8, 9, 100} {
		add(3+j, ms) // one-to-one
	}
	l, err := sumLatencies(strings.NewReader(strings.Join(lines, "\n")+"\n"), w, 1)
	if err != nil {
		t.Fatal(err)
	}
	if l.all.samples != 18 {
		t.Errorf("%d samples, want 18", l.all.samples)
	}
	if c := l.c2c; c.samples != 10 || c.p50 != 5 || c.p90 != 9 || c.max != 100 {
		t.Errorf("one-to-one %+v, want 10 samples, p50 5, p90 9, max 100", c)
	}
	if g := l.group; g.samples != 8 || g.p50 != 40 || g.p90 != 1010 || g.max != 1010 {
		t.Errorf("group %+v, want 8 samples, p50 40, p90 1010, max 1010", g)
	}
	if l.groupPushesPerS != 8 { // 8 pushes from 10 ms to 1010 ms
		t.Errorf("group pushes/s %v, want 8", l.groupPushesPerS)
	}
}

// TestInfoField reads a field, not its _human or _rss siblings, from an INFO reply.
func TestInfoField(t *testing.T) {
	info := "# Memory\r\nused_memory_human:1.02M\r\nused_memory:1069416\r\nused_memory_rss:5242880\r\nmem_clients_normal:22400\r\n"
	for name, want := range map[string]int64{"used_memory": 1069416, "mem_clients_normal": 22400} {
		if n, err := infoField(info, name); n != want || err != nil {
			t.Errorf("infoField(%s) = %d, %v; want %d", name, n, err, want)
		}
	}
	for _, bad := range []string{"# Memory\r\nused_memory_rss:5\r\n", "used_memory:lots\r\n"} {
		if _, err := infoField(bad, "used_memory"); err == nil {
			t.Errorf("infoField(%q): no error", bad)
		}
	}
}

// TestHotGroupWorkload: event 0 is one-to-one, the next HotMessages are the hot group's
// (sender u0, recipients u1…uHotMembers), every later one is one-to-one; the outcome count
// follows.
func TestHotGroupWorkload(t *testing.T) {
	cfg, err := parseFlags([]string{"--profile", "hot-group", "--hot-group-members", "50", "--hot-group-messages", "3",
		"--c2c-rate", "10", "--timeout", "10s", "--devices-per-user", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.workload()
	if w.Users != defaultHotUsers || w.HotMembers != 50 || w.HotMessages != 3 || w.Events != 4+100 {
		t.Fatalf("workload %+v: want 25000 users, 50 members, 3 messages, 4+100 events (10/s for 10s)", w)
	}
	at := time.Now()
	for i := range 10 {
		m := w.event(i, at)
		hot := i >= 1 && i <= 3
		if g, k, _ := w.shape(i); hot != (g >= 0) || hot && k != 50 || !hot && k != 1 {
			t.Errorf("event %d: shape group %d, %d recipients", i, g, k)
		}
		if !hot {
			if m.ChatType != "c2c" || len(m.Recipients) != 1 {
				t.Errorf("event %d: %s to %d, want one-to-one", i, m.ChatType, len(m.Recipients))
			}
			continue
		}
		if m.ChatType != "group" || m.Sender.UserID != "u0" || len(m.Recipients) != 50 ||
			m.Recipients[0] != "u1" || m.Recipients[49] != "u50" {
			t.Errorf("event %d: %s from %s to %d (%v…)", i, m.ChatType, m.Sender.UserID, len(m.Recipients), m.Recipients[:1])
		}
	}
	if got := w.outcomes(10); got != (3*50+7)*2 {
		t.Errorf("outcomes(10) = %d, want %d", got, (3*50+7)*2)
	}
	if cfg, err := parseFlags([]string{"--profile", "hot-group", "--hot-group-members", "30000"}, io.Discard); err != nil || cfg.users != 30001 {
		t.Errorf("30000 members: users %v, %v; want 30001", cfg, err)
	}
}

// TestWorkloadIsDeterministic: the producer child and the bench derive the same events from
// the seed, and the outcome count the bench waits for matches the events' recipients.
func TestWorkloadIsDeterministic(t *testing.T) {
	w := &workload{Run: "bx", Seed: 7, Events: 300, Users: 1000, Devices: 2, Groups: 50,
		GroupShare: 0.5, GroupMin: 5, GroupMax: 40, PayloadBytes: 10}
	at := time.Now()
	var recipients, groups int64
	for i := range w.Events {
		a, b := w.event(i, at), w.event(i, at)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("event %d differs between two builds", i)
		}
		seen := map[string]bool{a.Sender.UserID: true}
		for _, r := range a.Recipients {
			if seen[r] {
				t.Fatalf("event %d: %s twice or the sender among recipients", i, r)
			}
			seen[r] = true
		}
		if a.ChatType == "group" {
			groups++
		}
		if len(a.Elems[0].Text) != 10 {
			t.Fatalf("event %d text %q, want 10 bytes", i, a.Elems[0].Text)
		}
		recipients += int64(len(a.Recipients))
	}
	if got := w.outcomes(w.Events); got != recipients*2 {
		t.Errorf("outcomes = %d, want %d", got, recipients*2)
	}
	if groups < 100 || groups > 200 {
		t.Errorf("%d group events of 300 with share 0.5", groups)
	}
}

// gunzipped is the length of the gzip-compressed file path once decompressed.
func gunzipped(t *testing.T, path string) (int64, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, err
	}
	return io.Copy(io.Discard, zr)
}

// TestNextPoll: the poll interval is pollEvery before any progress and near the end, and at
// most pollMax while the end is far.
func TestNextPoll(t *testing.T) {
	for _, c := range []struct {
		done, left int64
		elapsed    time.Duration
		want       time.Duration
	}{
		{0, 1000, time.Second, pollEvery},
		{1000, 1, time.Second, pollEvery},                            // 1 ms to go
		{1000, 100, time.Second, 50 * time.Millisecond},              // 100 ms to go: poll at half
		{1000, 100000, time.Second, pollMax},                         // 100 s to go
		{1000, 400, time.Second, min(200*time.Millisecond, pollMax)}, // 400 ms to go
	} {
		if got := nextPoll(c.done, c.left, c.elapsed); got != c.want {
			t.Errorf("nextPoll(%d done, %d left, %v) = %v, want %v", c.done, c.left, c.elapsed, got, c.want)
		}
	}
}
