package pipeline

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"

	"offpush/apns"
	"offpush/dlq"
	"offpush/event"
	"offpush/presence"
	"offpush/recipient"
	"offpush/render"
)

// job is one fetched event on its way through the workers.
type job struct {
	msg    kafka.Message
	ticket ticket
}

// process runs one event through every stage and finishes its offset. It returns only when
// every push the event caused is finished, or when ctx ends (the event then stays unfinished).
func (p *Pipeline) process(ctx context.Context, j *job) {
	ctx, span := p.startEvent(ctx, j.msg)
	defer span.End()
	m, err := event.Decode(j.msg.Value)
	if err != nil {
		span.RecordError(err)
		if p.deadLetter(ctx, j, nil, "", dlq.InvalidEvent, err.Error(), 0) {
			p.offsets.finish(j.ticket)
		}
		return
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("offpush.message.id", m.ID), attribute.Int("offpush.recipients", len(m.Recipients)))
	}
	p.metrics.recipients.Add(int64(len(m.Recipients)))
	ro := p.opts.Texts
	ro.Expiry = p.opts.Expiry
	prep := render.Prepare(m, ro)
	now := p.opts.Now()
	// Message-level rules (noPush, empty custom, expired …) hold for every recipient: skip
	// them all without touching Redis.
	if s := prep.MessageSkip(now); s != render.NoSkip {
		p.metrics.skipped(ctx, s, len(m.Recipients))
		p.offsets.finish(j.ticket)
		return
	}
	// An ext or image URL too large to fit whole: no recipient's push can be sent. The event
	// goes to the DLQ once, as it is.
	if prep.TooLarge() {
		if p.deadLetter(ctx, j, nil, "", dlq.PayloadTooLarge, "offlinePush.ext and ios.image leave no room for the alert in 4096 bytes", 0) {
			p.offsets.finish(j.ticket)
		}
		return
	}
	if p.fanOut(ctx, j, m, prep) {
		p.offsets.finish(j.ticket)
	}
}

// fanOut runs the recipients of m in batches of BatchSize. Up to FanoutWindow batches are
// being looked up and claimed at once; a batch leaves the window as soon as its pushes are
// started, so the lookups and claims of later batches overlap the sends of earlier ones and
// what bounds the sends in flight is MaxPushes and the APNs slots, not the window. The
// batches of a large event (more than LargeEvent recipients) also each hold a slot of the bulk
// lane while in the window, and their pushes take push and APNs slots only when no small
// event's push waits.
// A device is in one batch, and the next event of the key starts only after this one
// finished, so a device still gets a conversation's pushes in message order. false means ctx
// ended before every batch finished.
func (p *Pipeline) fanOut(ctx context.Context, j *job, m *event.Message, prep *render.Prepared) bool {
	if m.ToMembers() {
		return p.fanOutMembers(ctx, j, m, prep)
	}
	users := m.Recipients
	lane := apns.Fast
	if len(users) > p.opts.LargeEvent {
		lane = apns.Bulk
	}
	if len(users) <= p.opts.BatchSize && lane == apns.Fast {
		return p.processSmall(ctx, j, m, prep, users)
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	window := make(chan struct{}, p.opts.FanoutWindow)
	for start := 0; start < len(users) && !failed.Load(); start += p.opts.BatchSize {
		batch := users[start:min(start+p.opts.BatchSize, len(users))]
		if !p.startBatch(ctx, &wg, &failed, window, j, m, prep, batch, lane) {
			failed.Store(true)
			break
		}
	}
	wg.Wait()
	return !failed.Load()
}

// processSmall runs the recipients of a small event as one batch of the fast lane, holding
// their number of MaxRecipients meanwhile.
func (p *Pipeline) processSmall(ctx context.Context, j *job, m *event.Message, prep *render.Prepared, users []string) bool {
	n := int64(min(len(users), p.opts.MaxRecipients))
	if p.fast.Acquire(ctx, n) != nil {
		return false
	}
	defer p.fast.Release(n)
	return p.processBatch(ctx, j, m, prep, users, apns.Fast, func() {})
}

// acquire takes a slot of sem, waiting as long as ctx allows.
func acquire(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// target is one device that passed every skip rule and is about to be claimed and pushed.
type target struct {
	userID string
	device recipient.Device
	topic  string
	style  render.Style
}

// processBatch handles one batch of recipients; false means ctx ended before it finished.
// started is called once every push of the batch has started (or none will).
func (p *Pipeline) processBatch(ctx context.Context, j *job, m *event.Message, prep *render.Prepared, users []string, lane apns.Lane, started func()) bool {
	var recs []presence.Recipient
	lctx, span := p.startSpan(ctx, "presence.lookup")
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("offpush.recipients", len(users)))
	}
	ok := p.infra(lctx, "presence lookup", func() (err error) { recs, err = p.lanes[lane].Lookup(lctx, users); return })
	span.End()
	if !ok {
		return false
	}
	if m.IsRevoke() {
		return p.revokeBatch(ctx, j, m, prep, recs, lane, started)
	}
	_, span = p.startSpan(ctx, "render.decide")
	// The rules are judged when the batch is pushed (quiet hours, expiry), not when the
	// event arrived: a large fan-out can take a while.
	targets, ok := p.decide(ctx, j, m, prep, recs, p.opts.Now())
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("offpush.devices", len(targets)))
	}
	span.End()
	if !ok {
		return false
	}
	if len(targets) == 0 {
		return true
	}
	claims := make([]presence.Claim, len(targets))
	for i, t := range targets {
		claims[i] = presence.Claim{UserID: t.userID, MsgID: m.ID, Token: t.device.Token, SentAt: m.SentAt, IgnoreBadge: prep.IgnoreBadge()}
	}
	var results []presence.ClaimResult
	cctx, span := p.startSpan(ctx, "presence.claim")
	ok = p.infra(cctx, "presence claim", func() (err error) { results, err = p.lanes[lane].Claim(cctx, claims); return })
	span.End()
	if !ok {
		return false
	}
	return p.sendBatch(ctx, batch{j: j, m: m, prep: prep, lane: lane, targets: targets, claims: claims, started: started}, results)
}

// batch is the claimed devices of one batch of an event, on their way to APNs.
type batch struct {
	j       *job
	m       *event.Message
	prep    *render.Prepared
	lane    apns.Lane
	targets []target
	claims  []presence.Claim
	started func() // called once the first round's pushes have all started
}

// decide applies the skip rules to every device of a batch and returns the devices to push.
func (p *Pipeline) decide(ctx context.Context, j *job, m *event.Message, prep *render.Prepared, recs []presence.Recipient, now time.Time) ([]target, bool) {
	devices := 0
	for i := range recs {
		devices += len(recs[i].Devices)
	}
	out := make([]target, 0, devices) // at most one target per device: no regrowth
	seen := make(map[string]bool, len(recs))
	for i := range recs {
		r := &recs[i]
		if seen[r.UserID] {
			// Listed twice in the batch: one claim per device is all a pipeline may make.
			p.metrics.skipped(ctx, render.Duplicate, max(1, len(r.Devices)))
			continue
		}
		seen[r.UserID] = true
		n := 0
		for i := range r.Devices {
			if prep.Targets(&r.Devices[i]) {
				n++
			}
		}
		style, s := prep.Decide(r.UserID, &r.Settings, n, now)
		if s != render.NoSkip {
			p.metrics.skipped(ctx, s, max(1, n))
			continue
		}
		for _, d := range r.Devices {
			switch s := prep.SkipDevice(&d); s {
			case render.NoSkip:
			case render.OtherKind:
				continue // not a target of this message: not counted
			default:
				p.metrics.skipped(ctx, s, 1)
				continue
			}
			topic, ok := p.apns.Topic(d.BusiID)
			if !ok {
				if !p.deadLetter(ctx, j, m, r.UserID, dlq.UnknownCertificate, "no certificate with busiId "+strconv.Itoa(d.BusiID)+" for token "+d.Token, 0) {
					return nil, false
				}
				continue
			}
			if need := kindOf(prep); !p.apns.Sends(d.BusiID, need) {
				if !p.deadLetter(ctx, j, m, r.UserID, dlq.UnknownCertificate, cannotSend(d.BusiID, need)+" (token "+d.Token+")", 0) {
					return nil, false
				}
				continue
			}
			out = append(out, target{userID: r.UserID, device: d, topic: topic, style: style})
		}
	}
	return out, true
}

// kindOf is the kind of push prep makes.
func kindOf(prep *render.Prepared) apns.Kinds {
	if prep.VoIP() {
		return apns.VoIP
	}
	return apns.Alerts
}

// cannotSend is the dead-letter text of a push its device's certificate cannot send.
func cannotSend(busiID int, need apns.Kinds) string {
	if need == apns.VoIP {
		return "certificate " + strconv.Itoa(busiID) + " cannot send VoIP pushes: certificate auth needs a VoIP Services certificate (apns.certificates[].voip) or a token-auth key"
	}
	return "certificate " + strconv.Itoa(busiID) + " is a VoIP Services certificate: it sends VoIP pushes only"
}

// sendBatch sends the claimed pushes of a batch and settles their dedupe keys. Claims busy on
// another worker (a partition's previous owner still sending during a rebalance) are claimed
// again every busyPoll until that worker finished them (done: skipped as duplicates) or their
// lease ran out (resend), so a rebalance pushes nothing twice.
func (p *Pipeline) sendBatch(ctx context.Context, b batch, results []presence.ClaimResult) bool {
	idx := make([]int, len(b.targets))
	for i := range idx {
		idx[i] = i
	}
	for {
		busy, ok := p.sendRound(ctx, b, results, idx)
		if !ok {
			return false
		}
		if len(busy) == 0 {
			return true
		}
		if !pollBusy(ctx) {
			return false
		}
		again := make([]presence.Claim, len(busy))
		for k, i := range busy {
			again[k] = b.claims[i]
		}
		var res []presence.ClaimResult
		if !p.infra(ctx, "presence claim", func() (err error) { res, err = p.lanes[b.lane].Claim(ctx, again); return }) {
			return false
		}
		for k, i := range busy {
			results[i] = res[k]
		}
		idx = busy
	}
}

// busyPoll is how often a claim busy on another worker is tried again.
const busyPoll = 200 * time.Millisecond

// pollBusy waits busyPoll before busy claims are tried again; false when ctx ended first.
func pollBusy(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(busyPoll):
		return true
	}
}

// sendRound sends the pushes idx of a batch whose claims are new or handed over, each on a
// goroutine of its own once it has a slot of MaxPushes (the APNs pool then bounds what is in
// flight), settling their dedupe keys in chunks as they finish (settler), waits for them,
// and returns the busy ones. ok is false when ctx ended first.
func (p *Pipeline) sendRound(ctx context.Context, b batch, results []presence.ClaimResult, idx []int) (busy []int, ok bool) {
	send := make([]int, 0, len(idx)) // positions in idx of the pushes to send
	for k, i := range idx {
		switch results[i].State {
		case presence.ClaimDone:
			p.metrics.skipped(ctx, render.Duplicate, 1)
		case presence.ClaimGone:
			p.metrics.skipped(ctx, render.NoDevice, 1)
		case presence.ClaimRevoked:
			p.metrics.skipped(ctx, render.Revoked, 1)
		case presence.ClaimBusy:
			busy = append(busy, i)
		default:
			send = append(send, k)
		}
	}
	var wg sync.WaitGroup
	jobs := make([]sendJob, len(idx))
	set := &settler{p: p, st: p.lanes[b.lane], size: min(settleChunk, len(send))}
	for n, k := range send {
		if p.pushes.Acquire(ctx, b.lane) != nil {
			wg.Wait()
			return nil, false
		}
		t, i := b.targets[idx[k]], idx[k]
		sj := &jobs[k]
		*sj = sendJob{job: b.j, msg: b.m, userID: t.userID, busiID: t.device.BusiID, lane: b.lane, started: true,
			req: request(b.prep.Notification(t.device.Token, t.topic, t.style, results[i].Badge)), claim: b.claims[i]}
		deliver := func() {
			p.deliverSlot(ctx, sj)
			set.add(ctx, sj)
		}
		if n < len(send)-1 {
			wg.Add(1)
			p.gos.Go(func() { defer wg.Done(); deliver() })
			continue
		}
		b.started() // the last one goes on this goroutine
		deliver()
	}
	b.started()
	wg.Wait()
	for k := range idx {
		if jobs[k].started && !jobs[k].finished {
			return nil, false // ctx ended mid-send: the claim stays pending, the event unfinished
		}
	}
	return busy, set.flush(ctx)
}

// settleChunk is how many finished pushes of a round settle together: a crash repeats at most
// this many finished pushes per batch besides those in flight, for a fraction of a Redis call
// per push.
const settleChunk = 64

// settler records the final dedupe states of a round's pushes (done for sent and dead tokens,
// released for dead letters so a replay can push; each with its attempts, for explain) in
// chunks of settleChunk as they finish, through the lane, which merges concurrent calls.
type settler struct {
	p    *Pipeline
	st   Store
	size int // capacity of a chunk: settleChunk, or the round's pushes if fewer

	mu            sync.Mutex
	done, release []presence.Claim
	failed        bool // a chunk could not be written before ctx ended
}

// add records sj's outcome once it finished, writing a chunk when one is full.
func (s *settler) add(ctx context.Context, sj *sendJob) {
	if !sj.finished || sj.revoked {
		return // unfinished: stays pending; stopped by a recall: its record says so already
	}
	c := sj.claim
	c.Attempts = sj.attempts
	s.mu.Lock()
	switch {
	case sj.deadLettered:
		s.release = append(s.release, c)
	case sj.tokenDead:
		c.Outcome = presence.OutcomeTokenRemoved
		s.done = append(s.done, c)
	default:
		if s.done == nil {
			s.done = make([]presence.Claim, 0, s.size) // filled to a chunk, then handed on
		}
		s.done = append(s.done, c)
	}
	var done, release []presence.Claim
	if len(s.done)+len(s.release) >= settleChunk {
		done, release, s.done, s.release = s.done, s.release, nil, nil
	}
	s.mu.Unlock()
	if (done != nil || release != nil) && !s.p.settle(ctx, s.st, done, release) {
		s.mu.Lock()
		s.failed = true
		s.mu.Unlock()
	}
}

// flush writes what is left; false when a chunk could not be written.
func (s *settler) flush(ctx context.Context) bool {
	s.mu.Lock()
	done, release, failed := s.done, s.release, s.failed
	s.done, s.release = nil, nil
	s.mu.Unlock()
	return !failed && s.p.settle(ctx, s.st, done, release)
}

// settle records the batch's final dedupe states in Redis.
func (p *Pipeline) settle(ctx context.Context, st Store, done, release []presence.Claim) bool {
	if len(done) > 0 && !p.infra(ctx, "presence done", func() error { return st.Done(ctx, done) }) {
		return false
	}
	if len(release) > 0 && !p.infra(ctx, "presence release", func() error { return st.Release(ctx, release) }) {
		return false
	}
	return true
}

// infra retries an infrastructure call (Redis) until it succeeds or ctx ends: the event waits
// rather than losing pushes, and the bounded queue stops the fetch loop meanwhile.
func (p *Pipeline) infra(ctx context.Context, what string, call func() error) bool {
	delay := 50 * time.Millisecond
	for {
		err := call()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		p.metrics.infraErrors.Add(ctx, 1)
		p.log.Warn("retrying", "op", what, "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}
