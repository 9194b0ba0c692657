package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/dlq"
	"offpush/embedkafka"
	"offpush/replay"
)

// now is the fixed clock of the filter tests; record timestamps are set relative to it.
var now = time.Now().UTC().Truncate(time.Second)

// dead builds a DLQ record as the pipeline writes it. A zero failedAt leaves out
// offpush-failed-at (the record timestamp, ts, is the fallback); an empty reason leaves out
// offpush-reason; an empty tp leaves out traceparent.
type dead struct {
	id, user, reason string
	value            string // overrides the narrowed event built from id and user
	failedAt, ts     time.Time
	replays          int
	tp               string
}

func (d dead) msg() kafka.Message {
	value := d.value
	if value == "" {
		value = `{"id":"` + d.id + `","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},` +
			`"recipients":["` + d.user + `"],"elems":[{"type":"text","text":"hi ` + d.id + `"}]}`
	}
	h := []kafka.Header{
		{Key: dlq.HeaderError, Value: []byte("apns: 503 ServiceUnavailable")},
		{Key: dlq.HeaderAttempts, Value: []byte("4")},
		{Key: dlq.HeaderSource, Value: []byte("im.messages/0/7")},
		{Key: dlq.HeaderReplays, Value: []byte(strconv.Itoa(d.replays))},
	}
	if d.reason != "" {
		h = append(h, kafka.Header{Key: dlq.HeaderReason, Value: []byte(d.reason)})
	}
	if !d.failedAt.IsZero() {
		h = append(h, kafka.Header{Key: dlq.HeaderFailedAt, Value: []byte(d.failedAt.Format(time.RFC3339Nano))})
	}
	if d.tp != "" {
		h = append(h, kafka.Header{Key: dlq.HeaderTraceparent, Value: []byte(d.tp)})
	}
	ts := d.ts
	if ts.IsZero() {
		ts = now
	}
	return kafka.Message{Key: []byte("c2c:alice:" + d.user), Value: []byte(value), Headers: h, Time: ts}
}

// kenv is a Kafka with a DLQ topic and an events topic of the test's own.
type kenv struct {
	t          *testing.T
	k          *embedkafka.Cluster
	dlq, topic string
	group      string
	dlqByID    map[string]kafka.Message // produced DLQ records by event id (or raw value)
}

func newKEnv(t *testing.T, k *embedkafka.Cluster, dlqPartitions int) *kenv {
	t.Helper()
	name := strings.NewReplacer("/", ".", " ", "_", "#", "_").Replace(t.Name())
	return &kenv{
		t: t, k: k, group: "replay-" + name, dlqByID: map[string]kafka.Message{},
		dlq:   k.Topic(t, name+".dlq", dlqPartitions),
		topic: k.Topic(t, name+".messages", 2),
	}
}

func (e *kenv) produce(ds ...dead) {
	e.t.Helper()
	msgs := make([]kafka.Message, len(ds))
	for i, d := range ds {
		msgs[i] = d.msg()
		e.dlqByID[idOf(msgs[i].Value)] = msgs[i]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.k.Produce(ctx, e.dlq, msgs...); err != nil {
		e.t.Fatal(err)
	}
}

func (e *kenv) opts() replay.Options {
	return replay.Options{
		Brokers: e.k.Brokers, DLQTopic: e.dlq, Topic: e.topic, GroupID: e.group,
		Idle: 10 * time.Second, Now: func() time.Time { return now },
	}
}

func (e *kenv) run(o replay.Options) replay.Summary {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	sum, err := replay.Run(ctx, o)
	if err != nil {
		e.t.Fatalf("Run: %v (summary %s)", err, sum)
	}
	e.t.Logf("Run took %v: %s", time.Since(start).Round(time.Millisecond), sum)
	return sum
}

// published returns every record of the events topic.
func (e *kenv) published() []kafka.Message {
	e.t.Helper()
	return all(e.t, e.k, e.topic)
}

// all reads every record topic holds: as many as its end offsets say, so exactly those.
func all(t *testing.T, k *embedkafka.Cluster, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n := 0
	for _, end := range endOffsets(t, k, topic) {
		n += int(end)
	}
	if n == 0 {
		return nil
	}
	msgs, err := k.ReadAll(ctx, topic, n)
	if err != nil {
		t.Fatalf("read %d records of %s: %v", n, topic, err)
	}
	return msgs
}

func endOffsets(t *testing.T, k *embedkafka.Cluster, topic string) map[int]int64 {
	t.Helper()
	conn, err := kafka.Dial("tcp", k.Brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range parts {
		lc, err := kafka.DialLeader(context.Background(), "tcp", k.Brokers[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[p.ID], err = lc.ReadLastOffset()
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// committed returns group's committed offsets on topic, by partition (-1: none).
func committed(t *testing.T, k *embedkafka.Cluster, group, topic string, parts int) map[int]int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(k.Brokers...)}
	ids := make([]int, parts)
	for i := range ids {
		ids[i] = i
	}
	res, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// idOf is the event id of a value, or the value itself when it is not an event.
func idOf(value []byte) string {
	var ev struct{ ID string }
	if json.Unmarshal(value, &ev) != nil || ev.ID == "" {
		return string(value)
	}
	return ev.ID
}

// checkReplayed checks that got are exactly the replays of the DLQ records ids: same key and
// value byte for byte, offpush-replays incremented, traceparent kept, no other header.
func (e *kenv) checkReplayed(got []kafka.Message, ids ...string) {
	e.t.Helper()
	var gotIDs []string
	for _, m := range got {
		id := idOf(m.Value)
		gotIDs = append(gotIDs, id)
		src, ok := e.dlqByID[id]
		if !ok {
			e.t.Errorf("replayed %q, which is no DLQ record", id)
			continue
		}
		if !bytes.Equal(m.Key, src.Key) || !bytes.Equal(m.Value, src.Value) {
			e.t.Errorf("replay of %q: key %q value %q, want %q %q", id, m.Key, m.Value, src.Key, src.Value)
		}
		want := map[string]string{dlq.HeaderReplays: strconv.Itoa(dlq.Replays(src.Headers) + 1)}
		if tp := headers(src)[dlq.HeaderTraceparent]; tp != "" {
			want[dlq.HeaderTraceparent] = tp
		}
		if h := headers(m); !maps.Equal(h, want) || len(m.Headers) != len(want) {
			e.t.Errorf("replay of %q has headers %v, want %v", id, h, want)
		}
	}
	slices.Sort(gotIDs)
	slices.Sort(ids)
	if !slices.Equal(gotIDs, ids) {
		e.t.Errorf("replayed %q, want %q", gotIDs, ids)
	}
}

func headers(m kafka.Message) map[string]string {
	out := map[string]string{}
	for _, h := range m.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

const tpA = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// dlqFixture is one of each kind of DLQ record the filters tell apart.
var dlqFixture = []dead{
	{id: "a", user: "bob", reason: "apns_retry_exhausted", failedAt: now.Add(-time.Hour), tp: tpA},
	{id: "b", user: "carol", reason: "apns_retry_exhausted", failedAt: now.Add(-3 * time.Hour), replays: 2},
	{id: "c", user: "bob", reason: "unknown_certificate", failedAt: now.Add(-30 * time.Hour)},
	{id: "d", user: "dave", reason: "payload_too_large", failedAt: now.Add(-10 * time.Minute)},
	// e: the original bytes of an event that failed to decode.
	{value: `{"id":`, reason: "invalid_event", failedAt: now.Add(-time.Hour)},
	// f: not an offpush dead letter (no offpush-reason).
	{id: "f", user: "bob", failedAt: now.Add(-time.Hour)},
	// g: a reason that promises a valid event, but the value is not one.
	{value: `{"id":"g"}`, reason: "apns_retry_exhausted", failedAt: now.Add(-time.Hour)},
	// h: no offpush-failed-at: the record timestamp (exactly now-2h) stands in.
	{id: "h", user: "bob", reason: "apns_rejected", ts: now.Add(-2 * time.Hour)},
}

// TestFilters produces the fixture to a DLQ and replays it with each filter: exactly the
// selected records reach the events topic, as replays, and the summary accounts for all.
func TestFilters(t *testing.T) {
	cases := []struct {
		name string
		set  func(*replay.Options)
		want []string
		sum  replay.Summary
	}{
		// No filter: every replayable record but the invalid_event one, which is refused.
		{"all", func(*replay.Options) {}, []string{"a", "b", "c", "d", "h"},
			replay.Summary{Read: 8, Replayed: 5, SkippedFilter: 1, Refused: 1, Invalid: 2}},
		// One reason: the undecodable g of that reason is invalid, f has no reason at all.
		{"reason", func(o *replay.Options) { o.Reasons = []string{"apns_retry_exhausted"} }, []string{"a", "b"},
			replay.Summary{Read: 8, Replayed: 2, SkippedFilter: 4, Invalid: 2}},
		// invalid_event named explicitly: its original bytes are replayed.
		{"reason invalid_event", func(o *replay.Options) { o.Reasons = []string{"invalid_event"} }, []string{`{"id":`},
			replay.Summary{Read: 8, Replayed: 1, SkippedFilter: 6, Invalid: 1}},
		{"two reasons", func(o *replay.Options) { o.Reasons = []string{"unknown_certificate", "payload_too_large"} }, []string{"c", "d"},
			replay.Summary{Read: 8, Replayed: 2, SkippedFilter: 5, Invalid: 1}},
		// Since is inclusive; h's record timestamp counts as its failure time.
		{"since", func(o *replay.Options) { o.Since = now.Add(-2 * time.Hour) }, []string{"a", "d", "h"},
			replay.Summary{Read: 8, Replayed: 3, SkippedFilter: 3, Refused: 1, Invalid: 2}},
		// Until is exclusive: h, failed exactly at Until, is out.
		{"until", func(o *replay.Options) { o.Until = now.Add(-2 * time.Hour) }, []string{"b", "c"},
			replay.Summary{Read: 8, Replayed: 2, SkippedFilter: 5, Refused: 1, Invalid: 1}},
		{"since and until", func(o *replay.Options) { o.Since, o.Until = now.Add(-4*time.Hour), now.Add(-30*time.Minute) }, []string{"a", "b", "h"},
			replay.Summary{Read: 8, Replayed: 3, SkippedFilter: 3, Refused: 1, Invalid: 2}},
		{"user", func(o *replay.Options) { o.Users = []string{"bob"} }, []string{"a", "c", "h"},
			replay.Summary{Read: 8, Replayed: 3, SkippedFilter: 3, Refused: 1, Invalid: 2}},
		{"users", func(o *replay.Options) { o.Users = []string{"carol", "dave"} }, []string{"b", "d"},
			replay.Summary{Read: 8, Replayed: 2, SkippedFilter: 4, Refused: 1, Invalid: 2}},
		// c failed 30h ago: too old for a 24h max age, counted apart from the filters.
		{"max age", func(o *replay.Options) { o.MaxAge = 24 * time.Hour }, []string{"a", "b", "d", "h"},
			replay.Summary{Read: 8, Replayed: 4, SkippedFilter: 1, Refused: 1, SkippedTooOld: 1, Invalid: 2}},
		{"reason and user", func(o *replay.Options) {
			o.Reasons, o.Users = []string{"apns_retry_exhausted"}, []string{"carol"}
		}, []string{"b"},
			replay.Summary{Read: 8, Replayed: 1, SkippedFilter: 5, Invalid: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A cluster each: kafka-go's shared transport caches a cluster's topic list.
			k := embedkafka.Start(t)
			e := newKEnv(t, k, 3)
			e.produce(dlqFixture...)
			o := e.opts()
			tc.set(&o)
			if sum := e.run(o); sum != tc.sum {
				t.Errorf("summary %+v, want %+v", sum, tc.sum)
			}
			e.checkReplayed(e.published(), tc.want...)
			ends, c := endOffsets(t, k, e.dlq), committed(t, k, e.group, e.dlq, 3)
			for p, end := range ends {
				if end > 0 && c[p] != end {
					t.Errorf("committed %v, want every record (%v): skipped ones too", c, ends)
				}
			}
		})
	}
}

// TestResumable: a run stopped by Max commits what it replayed; the next run of the group
// replays only the rest, and a third finds nothing to do.
func TestResumable(t *testing.T) {
	e := newKEnv(t, embedkafka.Start(t), 2)
	var ds []dead
	for i := range 7 {
		ds = append(ds, dead{id: fmt.Sprint("r", i), user: fmt.Sprint("u", i), reason: "apns_retry_exhausted", failedAt: now})
	}
	e.produce(ds...)
	o := e.opts()
	o.Max = 2
	if sum := e.run(o); sum != (replay.Summary{Read: 2, Replayed: 2}) {
		t.Errorf("first run: %+v, want 2 read and replayed", sum)
	}
	first := e.published()
	if len(first) != 2 {
		t.Fatalf("first run published %d records, want 2", len(first))
	}
	o.Max = 0
	if sum := e.run(o); sum != (replay.Summary{Read: 5, Replayed: 5}) {
		t.Errorf("second run: %+v, want the other 5", sum)
	}
	e.checkReplayed(e.published(), "r0", "r1", "r2", "r3", "r4", "r5", "r6")
	if sum := e.run(o); sum != (replay.Summary{}) {
		t.Errorf("third run: %+v, want nothing", sum)
	}
}

// TestDryRun prints the records it would replay, publishes and commits nothing, and leaves
// the group where it was: a real replay afterwards replays everything.
func TestDryRun(t *testing.T) {
	e := newKEnv(t, embedkafka.Start(t), 1)
	e.produce(dlqFixture[:5]...)
	var out bytes.Buffer
	o := e.opts()
	o.DryRun, o.Output, o.Reasons = true, &out, []string{"apns_retry_exhausted", "invalid_event"}
	want := replay.Summary{Read: 5, Replayed: 3, SkippedFilter: 2, DryRun: true}
	if sum := e.run(o); sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if got := e.published(); len(got) != 0 {
		t.Errorf("dry run published %d records", len(got))
	}
	if c := committed(t, e.k, e.group, e.dlq, 1); c[0] != -1 {
		t.Errorf("dry run committed %v", c)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	wantLines := []string{
		`{"offset":0,"partition":0,"reason":"apns_retry_exhausted","error":"apns: 503 ServiceUnavailable","user":"bob","failedAt":"` +
			now.Add(-time.Hour).Format(time.RFC3339) + `","replays":0,"event":` + string(e.dlqByID["a"].Value) + `}`,
		`{"offset":1,"partition":0,"reason":"apns_retry_exhausted","error":"apns: 503 ServiceUnavailable","user":"carol","failedAt":"` +
			now.Add(-3*time.Hour).Format(time.RFC3339) + `","replays":2,"event":` + string(e.dlqByID["b"].Value) + `}`,
		// Bytes that are not JSON are shown as a JSON string.
		`{"offset":4,"partition":0,"reason":"invalid_event","error":"apns: 503 ServiceUnavailable","user":"","failedAt":"` +
			now.Add(-time.Hour).Format(time.RFC3339) + `","replays":0,"event":"{\"id\":"}`,
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("dry-run lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	o.DryRun, o.Output = false, nil
	if sum := e.run(o); sum.Replayed != 3 {
		t.Errorf("real run after the dry run: %+v, want 3 replayed", sum)
	}
	e.checkReplayed(e.published(), "a", "b", `{"id":`)
}

// TestEmptyDLQStopsAtOnce: nothing to read means no group join and no idle wait.
func TestEmptyDLQStopsAtOnce(t *testing.T) {
	e := newKEnv(t, embedkafka.Start(t), 2)
	o := e.opts()
	o.Idle = time.Minute
	start := time.Now()
	if sum := e.run(o); sum != (replay.Summary{}) {
		t.Errorf("summary %+v", sum)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v on an empty DLQ", d)
	}
}

// TestStopsAtStartEndOffsets: records that arrive during a run (a replay that failed again,
// say) are left for the next run instead of being chased.
func TestStopsAtStartEndOffsets(t *testing.T) {
	e := newKEnv(t, embedkafka.Start(t), 1)
	e.produce(dead{id: "s1", user: "bob", reason: "apns_retry_exhausted", failedAt: now})
	o := e.opts()
	// The clock is first read to check s1's age, after the run read its end offsets: s2
	// arrives then.
	var once sync.Once
	o.MaxAge = time.Hour
	o.Now = func() time.Time {
		once.Do(func() { e.produce(dead{id: "s2", user: "bob", reason: "apns_retry_exhausted", failedAt: now}) })
		return now
	}
	if sum := e.run(o); sum != (replay.Summary{Read: 1, Replayed: 1}) {
		t.Errorf("first run %+v, want only s1", sum)
	}
	if sum := e.run(o); sum != (replay.Summary{Read: 1, Replayed: 1}) {
		t.Errorf("second run %+v, want only s2", sum)
	}
	e.checkReplayed(e.published(), "s1", "s2")
}

// TestProgressFinalLine: a non-terminal progress writer gets the summary as its last line.
func TestProgressFinalLine(t *testing.T) {
	e := newKEnv(t, embedkafka.Start(t), 1)
	e.produce(dlqFixture[:2]...)
	var prog bytes.Buffer
	o := e.opts()
	o.Progress = &prog
	e.run(o)
	lines := strings.Split(strings.TrimSpace(prog.String()), "\n")
	if last := lines[len(lines)-1]; last != "replay: read 2, replayed 2, skipped 0 by filter, 0 too old, 0 invalid" {
		t.Errorf("last progress line %q", last)
	}
}

// TestSummaryString covers the one-line summary's wording.
func TestSummaryString(t *testing.T) {
	for _, tc := range []struct {
		s    replay.Summary
		want string
	}{
		{replay.Summary{Read: 3, Replayed: 1, SkippedFilter: 1, Invalid: 1}, "read 3, replayed 1, skipped 1 by filter, 0 too old, 1 invalid"},
		// Refused invalid_event records say how to include them.
		{replay.Summary{Read: 2, SkippedFilter: 2, Refused: 1},
			"read 2, replayed 0, skipped 2 by filter (1 invalid_event refused: name --reason invalid_event to replay them), 0 too old, 0 invalid"},
		{replay.Summary{Read: 1, Replayed: 1, DryRun: true}, "read 1, would replay 1, skipped 0 by filter, 0 too old, 0 invalid"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}

// TestRunOptionErrors: unusable options are refused before connecting, naming the option.
func TestRunOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		o    replay.Options
		want string
	}{
		{replay.Options{}, "Brokers"},
		{replay.Options{Brokers: []string{"x:1"}, Topic: "t", DLQTopic: "t"}, "DLQTopic and Topic"},
		{replay.Options{Brokers: []string{"x:1"}, Max: -1}, "Max"},
		{replay.Options{Brokers: []string{"x:1"}, Since: now, Until: now}, "Since"},
	} {
		if _, err := replay.Run(context.Background(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to name %s", tc.o, err, tc.want)
		}
	}
}

// TestCommandFlagErrors: bad flag values are errors that name the flag.
func TestCommandFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "yesterday"}, "-since"},
		{[]string{"--until", "2026-13-01T00:00:00Z"}, "-until"},
		{[]string{"--since", "2026-11-25T10:00:00Z", "--until", "2026-11-25T09:00:00Z"}, "--since must be before --until"},
		{[]string{"--reason", "apns_retry_exhausted,oops"}, `--reason: unknown reason "oops"`},
		{[]string{"--reason", ""}, "-reason"},
		{[]string{"--max", "-1"}, "--max"},
		{[]string{"--max", "many"}, "-max"},
		{[]string{"--max-age", "2 days"}, "-max-age"},
		{[]string{"--max-age", "-1h"}, "--max-age"},
		{[]string{"--idle", "0s"}, "--idle"},
		{[]string{"--dlq-topic", "x", "--topic", "x"}, "--dlq-topic and --topic"},
		{[]string{"--config", "/nonexistent/offpush.yaml"}, "load config"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		err := replay.Command(context.Background(), tc.args, nil, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %s", tc.args, err, tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: wrote %q to stdout", tc.args, stdout.String())
		}
	}
}

// TestCommand runs the verb against Kafka: a dry run's stdout holds only JSON lines, a real
// run prints the summary to stdout.
func TestCommand(t *testing.T) {
	e := newKEnv(t, embedkafka.Start(t), 1)
	e.produce(dlqFixture[:4]...)
	args := []string{"--brokers", strings.Join(e.k.Brokers, ","), "--dlq-topic", e.dlq, "--topic", e.topic,
		"--group", e.group, "--reason", "apns_retry_exhausted", "--reason", "payload_too_large", "--user", "bob,dave", "--idle", "10s"}
	var stdout, stderr bytes.Buffer
	if err := replay.Command(context.Background(), append(args, "--dry-run"), nil, &stdout, &stderr); err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr.String())
	}
	var users []string
	for line := range strings.Lines(stdout.String()) {
		var l struct{ User string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("dry-run stdout line %q: %v", line, err)
		}
		users = append(users, l.User)
	}
	if !slices.Equal(users, []string{"bob", "dave"}) {
		t.Errorf("dry run would replay records of %v, want bob and dave", users)
	}
	if !strings.Contains(stderr.String(), "read 4, would replay 2") {
		t.Errorf("dry run stderr %q lacks the summary", stderr.String())
	}
	stdout.Reset()
	if err := replay.Command(context.Background(), args, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if got := stdout.String(); got != "read 4, replayed 2, skipped 2 by filter, 0 too old, 0 invalid\n" {
		t.Errorf("stdout %q", got)
	}
	e.checkReplayed(e.published(), "a", "d")
}

// TestIdleFallback: a partition another member of the group holds never reaches its end
// offset for this run; Idle stops it after it replayed its own partition, and says why.
func TestIdleFallback(t *testing.T) {
	e := newKEnv(t, embedkafka.Start(t), 2)
	var ds []dead
	for i := range 12 {
		ds = append(ds, dead{id: fmt.Sprint("i", i), user: fmt.Sprint("u", i), reason: "apns_retry_exhausted", failedAt: now})
	}
	e.produce(ds...)
	// A member that fetches (so it keeps its partitions) and never commits.
	member := kafka.NewReader(kafka.ReaderConfig{
		Brokers: e.k.Brokers, GroupID: e.group, Topic: e.dlq, HeartbeatInterval: 200 * time.Millisecond,
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second, MaxWait: 100 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); member.Close() }()
	// It has joined (alone, with both partitions) once it fetched a record.
	first, cancelFirst := context.WithTimeout(ctx, 20*time.Second)
	defer cancelFirst()
	if _, err := member.FetchMessage(first); err != nil {
		t.Fatalf("member fetch: %v", err)
	}
	go func() {
		for ctx.Err() == nil {
			_, _ = member.FetchMessage(ctx)
		}
	}()
	var prog bytes.Buffer
	o := e.opts()
	o.Idle, o.Progress = 3*time.Second, &prog
	sum := e.run(o)
	ends := endOffsets(t, e.k, e.dlq)
	if sum.Replayed != sum.Read || sum.Read == len(ds) || (int64(sum.Read) != ends[0] && int64(sum.Read) != ends[1]) {
		t.Errorf("summary %+v, want one partition's records (%v) replayed", sum, ends)
	}
	if !strings.Contains(prog.String(), "no record for 3s: stopping at positions") {
		t.Errorf("progress %q does not say why the run stopped", prog.String())
	}
}
