package bench

import (
	"reflect"
	"strings"
	"testing"
)

// TestMedianResult: every figure is the median of the runs' (the mean of the middle two for
// an even count), ratios included, taken on its own; parameters and outcomes are the first
// run's, the end load average the last run's; a nested BigGroups result is reduced too.
func TestMedianResult(t *testing.T) {
	mk := func(pushes, cpu, ratio float64, samples int, cycles uint64, bg float64) *Result {
		return &Result{PushesPerS: pushes, WorkerCPUUsPerPush: cpu, RatioCPU: ratio, C2CLatencySamples: samples,
			GCCycles: cycles, Outcomes: map[string]int64{"sent": int64(samples)}, Params: Params{Seed: uint64(samples)},
			LoadAvgEnd: [3]float64{bg}, BigGroups: &BigGroupsResult{Membership: BigGroupForm{PushesPerS: bg}}}
	}
	runs := []*Result{mk(100, 50, 0.9, 7, 3, 1), mk(300, 40, 0.5, 9, 9, 2), mk(200, 70, 0.7, 8, 6, 3)}
	got := medianResult(runs)
	if got.PushesPerS != 200 || got.WorkerCPUUsPerPush != 50 || got.RatioCPU != 0.7 || got.C2CLatencySamples != 8 || got.GCCycles != 6 {
		t.Errorf("median pushes/s %v, CPU %v, ratio %v, samples %v, cycles %v; want 200, 50, 0.7, 8, 6",
			got.PushesPerS, got.WorkerCPUUsPerPush, got.RatioCPU, got.C2CLatencySamples, got.GCCycles)
	}
	if got.BigGroups.Membership.PushesPerS != 2 || runs[0].BigGroups.Membership.PushesPerS != 1 {
		t.Errorf("big groups median %v (first run's now %v), want 2 and the runs unchanged",
			got.BigGroups.Membership.PushesPerS, runs[0].BigGroups.Membership.PushesPerS)
	}
	if got.Params.Seed != 7 || got.Outcomes["sent"] != 7 || got.LoadAvgEnd[0] != 3 {
		t.Errorf("params seed %v, outcomes %v, end load %v; want the first run's, and the last run's load", got.Params.Seed, got.Outcomes, got.LoadAvgEnd)
	}
	even := medianResult(runs[:2])
	if even.PushesPerS != 200 || even.RatioCPU != 0.7 {
		t.Errorf("median of two: pushes/s %v, ratio %v; want the means 200 and 0.7", even.PushesPerS, even.RatioCPU)
	}
	if one := medianResult(runs[1:2]); !reflect.DeepEqual(*one, *runs[1]) {
		t.Errorf("median of one run differs from it:\n%+v\n%+v", *one, *runs[1])
	}
}

// TestWriteRuns: the per-run table names every run, the median and the range.
func TestWriteRuns(t *testing.T) {
	runs := []*Result{{PushesPerS: 1000, C2CLatencySamples: 1, C2CP99Ms: 250}, {PushesPerS: 3000, C2CLatencySamples: 1, C2CP99Ms: 350}}
	var b strings.Builder
	writeRuns(&b, runs, medianResult(runs))
	for _, want := range []string{"median of 2 runs", "run 1", "run 2", "2000", "1000–3000", "one-to-one p99 ms", "250.0–350.0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}
