package pipeline

import (
	"context"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"offpush/apns"
	"offpush/dlq"
	"offpush/event"
	"offpush/presence"
	"offpush/render"
)

// sendJob is one push on its way to APNs.
type sendJob struct {
	job     *job
	msg     *event.Message
	userID  string
	busiID  int
	lane    apns.Lane
	req     apns.Request
	started bool
	claim   presence.Claim // the push's claim; a recall's replacement has none

	// Written by deliver.
	finished     bool // a final outcome was reached (sent, token removed, dead-lettered)
	deadLettered bool
	tokenDead    bool // APNs declared the token dead
	revoked      bool // a recall stopped it before a retry: never sent
	attempts     int  // APNs requests made
}

// deliverSlot delivers sj and returns the MaxPushes slot taken for it.
func (p *Pipeline) deliverSlot(ctx context.Context, sj *sendJob) {
	defer p.pushes.Release(sj.lane)
	p.deliver(ctx, sj)
}

// deliver sends one push with retries and acts on the final APNs answer.
func (p *Pipeline) deliver(ctx context.Context, sj *sendJob) {
	p.metrics.inFlight.Add(1)
	defer p.metrics.inFlight.Add(-1)
	ctx, span := p.startSpan(ctx, "apns.send", clientSpan...)
	res, attempts := p.sendWithRetry(ctx, sj)
	sj.attempts = attempts
	if sj.revoked {
		p.metrics.skipped(ctx, render.Revoked, 1)
		sj.finished = true
		span.End()
		return
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("apns.outcome", res.Class.String()), attribute.Int("http.response.status_code", res.Status),
			attribute.String("apns.reason", res.Reason), attribute.Int("offpush.attempts", attempts))
		endSpan(span, res.Err)
	}
	if ctx.Err() != nil && res.Class != apns.Sent {
		return // shutting down past the grace period: stays unfinished, redelivered later
	}
	outcome := OutcomeSent
	switch res.Class {
	case apns.Sent:
		p.metrics.sent(ctx)
		sj.finished = true
	case apns.TokenDead:
		outcome = OutcomeTokenRemoved
		sj.tokenDead = true
		sj.finished = p.removeToken(ctx, sj, res)
	default:
		outcome = OutcomeDeadLetter
		f, msg := failureOf(res)
		sj.deadLettered = p.deadLetter(ctx, sj.job, sj.msg, sj.userID, f, msg+" (token "+sj.req.Token+")", attempts)
		sj.finished = sj.deadLettered
	}
	if sj.finished && sj.req.PushType == render.PushTypeVoIP {
		p.metrics.voip.Add(ctx, 1, p.metrics.voipOpts[outcome])
	}
}

// clientSpan are the start options of an apns.send span, made once.
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// sendWithRetry sends until APNs gives a final answer, the retry budget (MaxAttempts,
// MaxElapsed) is spent, or the pipeline stops.
func (p *Pipeline) sendWithRetry(ctx context.Context, sj *sendJob) (apns.Result, int) {
	var bo backoff.BackOff // made at the first retry: most pushes need none
	var first time.Time    // the first attempt's start
	for attempt := 1; ; attempt++ {
		start := time.Now()
		if attempt == 1 {
			first = start
		}
		res := p.apns.Send(ctx, sj.busiID, &sj.req, sj.lane)
		p.metrics.apnsRequest(ctx, res, time.Since(start))
		if res.Class != apns.Retry && res.Class != apns.RefreshAuth {
			return res, attempt
		}
		if bo == nil {
			maxElapsed := p.opts.MaxElapsed // counted from the first attempt's start
			if maxElapsed > 0 {
				maxElapsed = max(maxElapsed-time.Since(first), time.Nanosecond)
			}
			b := backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(p.opts.InitialBackoff),
				backoff.WithMaxElapsedTime(maxElapsed),
			)
			bo = backoff.WithContext(backoff.WithMaxRetries(b, uint64(p.opts.MaxAttempts-1)), ctx)
		}
		wait := bo.NextBackOff()
		if wait == backoff.Stop || p.isStopping() {
			return res, attempt
		}
		if p.stopIfRevoked(ctx, sj) {
			return res, attempt
		}
		if res.RetryAfter > wait {
			wait = res.RetryAfter // 429: APNs asked us to slow down
		}
		p.metrics.retries.Add(ctx, 1)
		select {
		case <-ctx.Done():
			return res, attempt
		case <-time.After(wait):
		}
	}
}

// stopIfRevoked reports, before a retry, whether a recall asked sj to stop (then marking it
// revoked). Only retries ask: a first attempt cannot be stopped, and APNs accepted none of
// the earlier ones, so a stopped push was never shown. A Redis error lets the retry go on.
func (p *Pipeline) stopIfRevoked(ctx context.Context, sj *sendJob) bool {
	rc, ok := p.store.(Recaller)
	if !ok || sj.claim.MsgID == "" {
		return false
	}
	stop, err := rc.StopIfRevoked(ctx, sj.claim)
	if err != nil {
		p.log.Warn("check recall before retry", "err", err)
		return false
	}
	sj.revoked = stop
	return stop
}

func (p *Pipeline) isStopping() bool {
	select {
	case <-p.stopping:
		return true
	default:
		return false
	}
}

// removeToken deletes a token APNs declared dead, unless it was registered again after the
// time APNs gives; false means Redis could not be reached before ctx ended.
func (p *Pipeline) removeToken(ctx context.Context, sj *sendJob, res apns.Result) bool {
	// apns2 reads APNs' millisecond timestamp to the second: a registration inside that second
	// is taken as older than the 410, so the end of the second is the bound.
	until := res.Timestamp
	if !until.IsZero() {
		until = until.Add(time.Second - time.Millisecond)
	}
	var removed presence.TokenRemoval
	ok := p.infra(ctx, "remove dead token", func() (err error) {
		removed, err = p.store.RemoveDeadToken(ctx, sj.userID, sj.req.Token, until)
		return err
	})
	if ok {
		p.metrics.tokenDead(ctx, res.Reason, removed)
		p.log.Info("token dead", "user", sj.userID, "reason", res.Reason, "removal", removed.String())
	}
	return ok
}

// failureOf names the DLQ reason and error text of a final, unsuccessful APNs result.
func failureOf(res apns.Result) (dlq.Reason, string) {
	msg := res.Reason
	if res.Status != 0 {
		msg = strconv.Itoa(res.Status) + " " + res.Reason
	}
	if res.Err != nil {
		msg = res.Err.Error()
	}
	switch {
	case res.Reason == apns.ReasonUnknownCertificate:
		return dlq.UnknownCertificate, msg
	case res.Status == 413:
		return dlq.PayloadTooLarge, msg
	case res.Class == apns.Retry || res.Class == apns.RefreshAuth:
		return dlq.RetryExhausted, msg
	default:
		return dlq.Rejected, msg
	}
}

// request is the APNs request of a rendered notification.
func request(n render.Notification) apns.Request {
	return apns.Request{ID: n.ID, Token: n.Token, Topic: n.Topic, PushType: n.PushType, Priority: n.Priority,
		Expiration: n.Expiration, CollapseID: n.CollapseID, Payload: n.Payload}
}
