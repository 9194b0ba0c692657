package bench

import (
	"strings"
	"testing"
)

// TestBigGroupsProfile runs a tiny big-groups comparison: both forms push every member but
// the sender of each event, and the membership form's events are far smaller in Kafka.
func TestBigGroupsProfile(t *testing.T) {
	got, stdout := runBench(t, "--profile", "big-groups", "--group-min", "300", "--group-max", "400", "--events", "2",
		"--foreground", "0", "--baseline-pushes", "200", "--baseline-goroutines", "8")
	bg, _ := got["big_groups"].(map[string]any)
	m, _ := bg["membership"].(map[string]any)
	r, _ := bg["recipient_lists"].(map[string]any)
	if m == nil || r == nil {
		t.Fatalf("no big_groups in %v", got)
	}
	num := func(f map[string]any, k string) float64 { v, _ := f[k].(float64); return v }
	if num(m, "pushes") != num(r, "pushes") || num(m, "pushes") < 600 {
		t.Errorf("pushes: membership %v, recipient lists %v; want the same, at least 2×300", m["pushes"], r["pushes"])
	}
	if num(m, "kafka_bytes_per_event")*5 > num(r, "kafka_bytes_per_event") || num(m, "peak_rss_mb") <= 0 {
		t.Errorf("Kafka bytes/event: membership %v, recipient lists %v; peak RSS %v", m["kafka_bytes_per_event"], r["kafka_bytes_per_event"], m["peak_rss_mb"])
	}
	if !strings.Contains(stdout, "Kafka bytes/event") {
		t.Errorf("table:\n%s", stdout)
	}
}
