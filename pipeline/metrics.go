package pipeline

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"offpush/apns"
	"offpush/dlq"
	"offpush/presence"
	"offpush/render"
)

// Outcomes of a push, the "outcome" label of offpush.pushes.
const (
	OutcomeSent         = "sent"
	OutcomeSkipped      = "skipped"
	OutcomeTokenRemoved = "token_removed"
	OutcomeDeadLetter   = "dead_letter"
)

// metrics are the pipeline's OpenTelemetry instruments. Attribute sets are built once so the
// hot path only adds numbers. The counters added to once or more per event (events,
// recipients, pushes) are sums: an atomic add per call, read by the SDK when it collects.
type metrics struct {
	eventsConsumed *atomic.Int64
	recipients     *atomic.Int64
	pushes         *sum
	retries        metric.Int64Counter
	dlqRecords     metric.Int64Counter
	infraErrors    metric.Int64Counter
	revokes        metric.Int64Counter // recalls per device, by result
	voip           metric.Int64Counter // VoIP pushes by outcome
	inFlight       atomic.Int64        // observed by offpush.apns.in_flight: no metric call per push
	apnsLatency    metric.Float64Histogram

	lagMu sync.Mutex
	lag   map[partKey]int64 // records behind the high watermark, as of the last fetch

	// The options of the calls made once per push are kept as slices: a variadic argument
	// built at the call escapes to the heap through the interface method.
	statusOpts map[int][]metric.RecordOption // by APNs status, 0 = network error

	skipCount [256]*atomic.Int64    // offpush.pushes by render.Skip
	dlqOpts   [256]metric.AddOption // by dlq.Reason
	dlqPush   [256]*atomic.Int64    // offpush.pushes by dlq.Reason
	sentCount *atomic.Int64

	revokeReplaced, revokePrevented metric.AddOption
	voipOpts                        map[string]metric.AddOption // by outcome
}

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	m := mp.Meter("offpush/pipeline")
	var err error
	mt := &metrics{}
	c := func(name, desc, unit string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var ctr metric.Int64Counter
		ctr, err = m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return ctr
	}
	s := func(name, desc, unit string) *sum {
		if err != nil {
			return nil
		}
		var sm *sum
		sm, err = newSum(m, name, desc, unit)
		return sm
	}
	events := s("offpush.events.consumed", "Message events fetched from Kafka.", "{event}")
	recipients := s("offpush.recipients", "Recipients fanned out from events.", "{recipient}")
	mt.pushes = s("offpush.pushes", "Pushes by outcome (sent, skipped, token_removed, dead_letter) and reason.", "{push}")
	mt.retries = c("offpush.apns.retries", "APNs requests retried.", "{request}")
	mt.dlqRecords = c("offpush.dlq.records", "Records written to the dead-letter topic, by reason.", "{record}")
	mt.infraErrors = c("offpush.infra.errors", "Failed Redis or Kafka calls that were retried.", "{error}")
	mt.revokes = c("offpush.revokes", "Recalls per device, by result: replaced (the shown notification replaced) or prevented (the original never pushed).", "{device}")
	mt.voip = c("offpush.voip.pushes", "VoIP (PushKit) pushes sent to APNs, by outcome (sent, token_removed, dead_letter).", "{push}")
	if err != nil {
		return nil, err
	}
	mt.eventsConsumed = events.series(*attribute.EmptySet())
	mt.recipients = recipients.series(*attribute.EmptySet())
	if _, err = m.Int64ObservableUpDownCounter("offpush.apns.in_flight", metric.WithDescription("APNs sends in flight."),
		metric.WithUnit("{request}"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(mt.inFlight.Load())
			return nil
		})); err != nil {
		return nil, err
	}
	if mt.apnsLatency, err = m.Float64Histogram("offpush.apns.request.duration", metric.WithDescription("APNs request latency."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return nil, err
	}
	mt.lag = map[partKey]int64{}
	if _, err = m.Int64ObservableGauge("offpush.kafka.consumer.lag",
		metric.WithDescription("Records between the last fetched event and the partition's end, per partition."),
		metric.WithUnit("{record}"), metric.WithInt64Callback(mt.observeLag)); err != nil {
		return nil, err
	}
	for _, sk := range render.Skips() {
		mt.skipCount[sk] = mt.pushes.series(pushAttrs(OutcomeSkipped, sk.String()))
	}
	for _, f := range dlq.Reasons() {
		mt.dlqOpts[f] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", f.String())))
		mt.dlqPush[f] = mt.pushes.series(pushAttrs(OutcomeDeadLetter, f.String()))
	}
	mt.sentCount = mt.pushes.series(pushAttrs(OutcomeSent, ""))
	result := func(r string) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("result", r)))
	}
	mt.revokeReplaced, mt.revokePrevented = result("replaced"), result("prevented")
	mt.voipOpts = map[string]metric.AddOption{}
	for _, o := range []string{OutcomeSent, OutcomeTokenRemoved, OutcomeDeadLetter} {
		mt.voipOpts[o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", o)))
	}
	mt.zero()
	mt.statusOpts = map[int][]metric.RecordOption{}
	for _, st := range []int{0, 200, 400, 403, 404, 405, 410, 413, 429, 500, 503} {
		mt.statusOpts[st] = []metric.RecordOption{statusAttr(st)}
	}
	return mt, nil
}

// zero records 0 for the counters alerts are written on, so /metrics shows them (and rate()
// works) before the first dead letter, retry or infrastructure error.
func (m *metrics) zero() {
	ctx := context.Background()
	for _, f := range dlq.Reasons() {
		m.dlqRecords.Add(ctx, 0, m.dlqOpts[f])
	}
	m.retries.Add(ctx, 0)
	m.infraErrors.Add(ctx, 0)
	m.pushes.export(pushAttrs(OutcomeSent, ""))
	m.revokes.Add(ctx, 0, m.revokeReplaced)
	m.revokes.Add(ctx, 0, m.revokePrevented)
	for _, o := range m.voipOpts {
		m.voip.Add(ctx, 0, o)
	}
}

func pushAttrs(outcome, reason string) attribute.Set {
	return attribute.NewSet(attribute.String("outcome", outcome), attribute.String("reason", reason))
}

func (m *metrics) skipped(_ context.Context, s render.Skip, n int) {
	if c := m.skipCount[s]; c != nil {
		c.Add(int64(n))
		return
	}
	m.pushes.series(pushAttrs(OutcomeSkipped, s.String())).Add(int64(n))
}

func (m *metrics) sent(context.Context) { m.sentCount.Add(1) }

func (m *metrics) deadLettered(ctx context.Context, f dlq.Reason) {
	m.dlqRecords.Add(ctx, 1, m.dlqOpts[f])
	if f == dlq.InvalidEvent {
		return
	}
	if c := m.dlqPush[f]; c != nil {
		c.Add(1)
		return
	}
	m.pushes.series(pushAttrs(OutcomeDeadLetter, f.String())).Add(1)
}

// tokenDead counts the push of a token APNs declared dead: token_removed with APNs' reason
// when this push removed it; skipped when it was registered again after APNs' 410 time
// (token_reregistered) or was gone already, e.g. removed by an earlier 410
// (token_already_removed).
func (m *metrics) tokenDead(_ context.Context, reason string, r presence.TokenRemoval) {
	outcome := OutcomeTokenRemoved
	switch r {
	case presence.TokenKept:
		outcome, reason = OutcomeSkipped, "token_reregistered"
	case presence.TokenGone:
		outcome, reason = OutcomeSkipped, "token_already_removed"
	}
	m.pushes.series(pushAttrs(outcome, reason)).Add(1)
}

func (m *metrics) apnsRequest(ctx context.Context, res apns.Result, d time.Duration) {
	opts, ok := m.statusOpts[res.Status] // read-only after newMetrics
	if !ok {
		opts = []metric.RecordOption{statusAttr(res.Status)}
	}
	m.apnsLatency.Record(ctx, d.Seconds(), opts...)
}

// statusAttr is the "status" attribute of an APNs request: the HTTP status, or "error" when
// no answer came (status 0).
func statusAttr(status int) metric.RecordOption {
	s := "error"
	if status != 0 {
		s = strconv.Itoa(status)
	}
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("status", s)))
}

// fetched records the consumer lag of a partition from a fetched message's high watermark.
func (m *metrics) fetched(msg kafka.Message) {
	m.lagMu.Lock()
	m.lag[partKey{msg.Topic, msg.Partition}] = max(0, msg.HighWaterMark-msg.Offset-1)
	m.lagMu.Unlock()
}

func (m *metrics) observeLag(_ context.Context, o metric.Int64Observer) error {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	for k, v := range m.lag {
		o.Observe(v, metric.WithAttributes(attribute.String("topic", k.topic), attribute.Int("partition", k.partition)))
	}
	return nil
}

// sum is a monotonic counter (an OpenTelemetry observable counter) kept as one atomic
// integer per attribute set: adding is an atomic add, where a synchronous counter's Add
// resolves its attribute set and offers an exemplar every time (4% of a one-to-one push's
// CPU). The SDK reads the sums when it collects.
type sum struct {
	mu    sync.Mutex
	bySet map[attribute.Distinct]*sumSeries
	list  []*sumSeries // in the order the sets first appeared
}

type sumSeries struct {
	n      atomic.Int64
	opt    metric.ObserveOption
	always bool // exported at 0 too; otherwise from its first add on, as a synchronous counter's
}

func newSum(m metric.Meter, name, desc, unit string) (*sum, error) {
	s := &sum{bySet: map[attribute.Distinct]*sumSeries{}}
	_, err := m.Int64ObservableCounter(name, metric.WithDescription(desc), metric.WithUnit(unit),
		metric.WithInt64Callback(s.observe))
	return s, err
}

// series is the counter of set, made when new.
func (s *sum) series(set attribute.Set) *atomic.Int64 { return &s.get(set).n }

// export has set's counter exported from now on, even while it is 0.
func (s *sum) export(set attribute.Set) {
	ss := s.get(set)
	s.mu.Lock()
	ss.always = true
	s.mu.Unlock()
}

func (s *sum) get(set attribute.Set) *sumSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := set.Equivalent()
	if ss := s.bySet[k]; ss != nil {
		return ss
	}
	ss := &sumSeries{opt: metric.WithAttributeSet(set)}
	s.bySet[k] = ss
	s.list = append(s.list, ss)
	return ss
}

func (s *sum) observe(_ context.Context, o metric.Int64Observer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.list {
		if v := ss.n.Load(); v != 0 || ss.always {
			o.Observe(v, ss.opt)
		}
	}
	return nil
}
