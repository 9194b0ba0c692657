package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
)

// latency sums up publish-to-simulator latencies, in milliseconds: of every push, and of the
// pushes of one-to-one events alone (no fan-out: what is left is pickup and queueing).
type latency struct {
	all, c2c percentiles
}

type percentiles struct {
	samples        int
	p50, p99, p999 float64
}

// readLatencies reads the simulator's deliveries file and returns, for the pushes of w's run
// whose event index is at least from, the latency from the publish time carried in the
// apns-collapse-id (= message id "run-index-ms", see workload.msgID) to receivedAt.
func readLatencies(path string, w *workload, from int) (latency, error) {
	f, err := os.Open(path)
	if err != nil {
		return latency{}, fmt.Errorf("deliveries: %w", err)
	}
	defer f.Close()
	var all, c2c []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	prefix := []byte(w.Run + "-")
	for sc.Scan() {
		d, index, ok := lineLatency(sc.Bytes(), prefix, from)
		if !ok {
			continue
		}
		all = append(all, d)
		if g, _, _ := w.shape(index); g < 0 {
			c2c = append(c2c, d)
		}
	}
	if err := sc.Err(); err != nil {
		return latency{}, fmt.Errorf("deliveries: %w", err)
	}
	return latency{all: summarize(all), c2c: summarize(c2c)}, nil
}

// lineLatency extracts the latency and the event index of one delivery line, if it is one
// of the run's.
func lineLatency(line, prefix []byte, from int) (float64, int, bool) {
	id, ok := field(line, `"apns-collapse-id":"`)
	if !ok || !bytes.HasPrefix(id, prefix) {
		return 0, 0, false
	}
	rest := id[len(prefix):]
	dash := bytes.IndexByte(rest, '-')
	if dash < 0 {
		return 0, 0, false
	}
	index, err1 := strconv.Atoi(string(rest[:dash]))
	sentMs, err2 := strconv.ParseInt(string(rest[dash+1:]), 10, 64)
	at, ok := field(line, `"receivedAt":"`)
	if err1 != nil || err2 != nil || !ok || index < from {
		return 0, 0, false
	}
	received, err := time.Parse(time.RFC3339Nano, string(at))
	if err != nil {
		return 0, 0, false
	}
	return float64(received.Sub(time.UnixMilli(sentMs))) / float64(time.Millisecond), index, true
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
	return percentiles{samples: len(ms), p50: rank(0.5), p99: rank(0.99), p999: rank(0.999)}
}
