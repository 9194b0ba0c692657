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
	out.LoadAvgEnd = runs[len(runs)-1].LoadAvgEnd
	return &out
}

// medianFields sets every numeric field of dst (a struct) to the median of that field in
// srcs, recursing into struct fields and into pointers to structs that every src has (a
// copy, so that dst shares nothing with srcs).
func medianFields(dst reflect.Value, srcs []reflect.Value) {
	for i := range dst.NumField() {
		f := dst.Field(i)
		if !f.CanSet() {
			continue
		}
		sub := make([]reflect.Value, len(srcs))
		for j, s := range srcs {
			sub[j] = s.Field(i)
		}
		switch f.Kind() {
		case reflect.Struct:
			medianFields(f, sub)
		case reflect.Pointer:
			if f.Type().Elem().Kind() != reflect.Struct || slices.ContainsFunc(sub, reflect.Value.IsNil) {
				continue
			}
			c := reflect.New(f.Type().Elem())
			c.Elem().Set(f.Elem())
			for j := range sub {
				sub[j] = sub[j].Elem()
			}
			medianFields(c.Elem(), sub)
			f.Set(c)
		case reflect.Float64:
			f.SetFloat(median(sub, reflect.Value.Float))
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(median(sub, func(v reflect.Value) float64 { return float64(v.Int()) })))
		case reflect.Uint64:
			f.SetUint(uint64(median(sub, func(v reflect.Value) float64 { return float64(v.Uint()) })))
		}
	}
}

// median is the middle value of num over vs, or the mean of the two middle ones.
func median(vs []reflect.Value, num func(reflect.Value) float64) float64 {
	s := make([]float64, len(vs))
	for i, v := range vs {
		s[i] = num(v)
	}
	slices.Sort(s)
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
