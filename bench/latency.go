package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
)

// latency sums up publish-to-simulator latencies, in milliseconds: of every push, of the
// pushes of one-to-one events (no fan-out: what is left is pickup and queueing) and of the
// pushes of group events; and the group pushes' rate from the first to reach the simulator to
// the last.
type latency struct {
	all, c2c, group percentiles
	groupPushesPerS float64
}

type percentiles struct {
	samples                  int
	p50, p90, p99, p999, max float64
}

// readLatencies reads the simulator's deliveries file and sums up the pushes of w's run
// whose event index is at least from (see delivered).
func readLatencies(path string, w *workload, from int) (latency, error) {
	f, err := os.Open(path)
	if err != nil {
		return latency{}, fmt.Errorf("deliveries: %w", err)
	}
	defer f.Close()
	l, err := sumLatencies(f, w, from)
	if err != nil {
		return latency{}, fmt.Errorf("deliveries: %w", err)
	}
	return l, nil
}

// sumLatencies reads deliveries lines from r, classifying each push by its event's shape.
func sumLatencies(r io.Reader, w *workload, from int) (latency, error) {
	var all, c2c, group []float64
	var first, last time.Time
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	prefix := []byte(w.Run + "-")
	for sc.Scan() {
		d, ok := delivered(sc.Bytes(), prefix, from)
		if !ok {
			continue
		}
		all = append(all, d.ms)
		if g, _, _ := w.shape(d.index); g < 0 {
			c2c = append(c2c, d.ms)
			continue
		}
		group = append(group, d.ms)
		if first.IsZero() || d.at.Before(first) {
			first = d.at
		}
		last = later(last, d.at)
	}
	l := latency{all: summarize(all), c2c: summarize(c2c), group: summarize(group),
		groupPushesPerS: rate(int64(len(group)), last.Sub(first))}
	return l, sc.Err()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// delivery is one push of the run as the simulator recorded it.
type delivery struct {
	index int       // the event's
	ms    float64   // from the event's publish time to receivedAt
	at    time.Time // receivedAt
}

// delivered reads one delivery line, if it is one of the run's and its event index is at
// least from: the publish time is carried in the apns-collapse-id (= message id
// "run-index-ms", see workload.msgID).
func delivered(line, prefix []byte, from int) (delivery, bool) {
	id, ok := field(line, `"apns-collapse-id":"`)
	if !ok || !bytes.HasPrefix(id, prefix) {
		return delivery{}, false
	}
	rest := id[len(prefix):]
	dash := bytes.IndexByte(rest, '-')
	if dash < 0 {
		return delivery{}, false
	}
	index, err1 := strconv.Atoi(string(rest[:dash]))
	sentMs, err2 := strconv.ParseInt(string(rest[dash+1:]), 10, 64)
	at, ok := field(line, `"receivedAt":"`)
	if err1 != nil || err2 != nil || !ok || index < from {
		return delivery{}, false
	}
	received, err := time.Parse(time.RFC3339Nano, string(at))
	if err != nil {
		return delivery{}, false
	}
	return delivery{index: index, ms: millis(received.Sub(time.UnixMilli(sentMs))), at: received}, true
}

// field returns the JSON string value that follows key (which ends with its opening quote);
// the values read here hold no escapes.
func field(line []byte, key string) ([]byte, bool) {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return nil, false
	}
	v := line[i+len(key):]
	end := bytes.IndexByte(v, '"')
	if end < 0 {
		return nil, false
	}
	return v[:end], true
}

// summarize computes nearest-rank percentiles.
func summarize(ms []float64) percentiles {
	if len(ms) == 0 {
		return percentiles{}
	}
	slices.Sort(ms)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(ms)))) - 1
		return ms[min(max(i, 0), len(ms)-1)]
	}
	return percentiles{samples: len(ms), p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), p999: rank(0.999), max: ms[len(ms)-1]}
}
