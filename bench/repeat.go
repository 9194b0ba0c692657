package bench

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
)

// Repeated is the JSON of `offpush bench --repeat N` with N > 1: every run's Result, and
// their median.
type Repeated struct {
	// Median holds, for every figure, the median of the runs' values (the mean of the two
	// middle ones for an even number of runs), each taken on its own: its ratios are medians
	// of the ratios measured within each run, not ratios of medians. The outcome counts, the
	// parameters and the load average at the start are the first run's.
	Median *Result   `json:"median"`
	Runs   []*Result `json:"runs"`
}

// repeatRuns runs the bench cfg.repeat times, each on an environment of its own (Kafka,
// Redis and the simulator started anew), so that a disturbance of the machine in one run
// shows as an outlier instead of shifting every figure.
func repeatRuns(run func() (*Result, error), n int, logf func(string, ...any)) ([]*Result, error) {
	runs := make([]*Result, 0, n)
	for i := range n {
		if n > 1 {
			logf("run %d of %d", i+1, n)
		}
		r, err := run()
		if err != nil {
			if n > 1 {
				return nil, fmt.Errorf("run %d of %d: %w", i+1, n, err)
			}
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// medianResult is a Result whose numeric fields, also those of nested structs (BigGroups
// when every run has one), are the medians of runs'; Params and the other fields are those
// of the first run, and LoadAvgEnd that of the last.
func medianResult(runs []*Result) *Result {
	out := *runs[0]
	vals := make([]reflect.Value, len(runs))
	for i, r := range runs {
		vals[i] = reflect.ValueOf(r).Elem()
	}
	medianFields(reflect.ValueOf(&out).Elem(), vals)
	out.Params = runs[0].Params
	out.LoadAvgStart, out.LoadAvgEnd = runs[0].LoadAvgStart, runs[len(runs)-1].LoadAvgEnd
	if out.BigGroups != nil {
		bg := *out.BigGroups // not shared with runs[0]
		out.BigGroups = &bg
		bgs := make([]reflect.Value, 0, len(runs))
		for _, r := range runs {
			if r.BigGroups == nil {
				return &out
			}
			bgs = append(bgs, reflect.ValueOf(r.BigGroups).Elem())
		}
		medianFields(reflect.ValueOf(out.BigGroups).Elem(), bgs)
	}
	return &out
}

// medianFields sets every numeric field of dst (a struct) to the median of that field in
// srcs, recursing into struct fields.
func medianFields(dst reflect.Value, srcs []reflect.Value) {
	for i := range dst.NumField() {
		f := dst.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Struct:
			sub := make([]reflect.Value, len(srcs))
			for j, s := range srcs {
				sub[j] = s.Field(i)
			}
			medianFields(f, sub)
		case reflect.Float64:
			xs := make([]float64, len(srcs))
			for j, s := range srcs {
				xs[j] = s.Field(i).Float()
			}
			f.SetFloat(median(xs))
		case reflect.Int, reflect.Int64:
			xs := make([]float64, len(srcs))
			for j, s := range srcs {
				xs[j] = float64(s.Field(i).Int())
			}
			f.SetInt(int64(median(xs)))
		case reflect.Uint64:
			xs := make([]float64, len(srcs))
			for j, s := range srcs {
				xs[j] = float64(s.Field(i).Uint())
			}
			f.SetUint(uint64(median(xs)))
		}
	}
}

// median is the middle value of xs, or the mean of the two middle ones.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// writeRuns prints, after the median's table, each run's main figures and their range.
func writeRuns(out io.Writer, runs []*Result, med *Result) {
	fmt.Fprintf(out, "\nmedian of %d runs above, each figure on its own; per run:\n", len(runs))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{""}
	for i := range runs {
		head = append(head, fmt.Sprintf("run %d", i+1))
	}
	fmt.Fprintf(tw, "%s\tmedian\tmin–max\t\n", strings.Join(head, "\t"))
	row := func(name, format string, get func(*Result) float64) {
		cells := []string{name}
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = get(r)
			cells = append(cells, fmt.Sprintf(format, xs[i]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s–%s\t\n", strings.Join(cells, "\t"), fmt.Sprintf(format, get(med)),
			fmt.Sprintf(format, slices.Min(xs)), fmt.Sprintf(format, slices.Max(xs)))
	}
	row("pushes/s", "%.0f", func(r *Result) float64 { return r.PushesPerS })
	row("worker CPU µs/push", "%.1f", func(r *Result) float64 { return r.WorkerCPUUsPerPush })
	row("apns2 loop CPU µs/push", "%.1f", func(r *Result) float64 { return r.BaselineCPUUsPerPush })
	row("CPU ratio to the loop", "%.2f", func(r *Result) float64 { return r.RatioCPU })
	if med.Params.CompareRTT {
		row("pushes/s at 0 ms", "%.0f", func(r *Result) float64 { return r.ZeroRTTPushesPerS })
		row("CPU µs/push at 0 ms", "%.1f", func(r *Result) float64 { return r.ZeroRTTWorkerCPUUsPerPush })
		row("pushes/s rtt / 0 ms", "%.2f", func(r *Result) float64 { return r.RatioRTTPushes })
	}
	if med.C2CLatencySamples > 0 {
		row("one-to-one p99 ms", "%.1f", func(r *Result) float64 { return r.C2CP99Ms })
	}
	if med.GroupLatencySamples > 0 {
		row("group pushes/s", "%.0f", func(r *Result) float64 { return r.GroupPushesPerS })
	}
	row("peak RSS MB", "%.0f", func(r *Result) float64 { return r.PeakRSSMB })
	row("redis B/push", "%.1f", func(r *Result) float64 { return r.RedisBytesPerPush })
	tw.Flush()
}
