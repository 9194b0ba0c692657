package pipeline

import (
	"context"
	"errors"
	"sync"

	"offpush/apns"
	"offpush/dlq"
	"offpush/event"
	"offpush/presence"
	"offpush/recipient"
	"offpush/render"
)

// Recaller is the Store's part for recalls (event kind revoke); *presence.Store implements it.
// A Store without it dead-letters recalls as invalid events.
type Recaller interface {
	// Revoke recalls the pushes of a message to devices; see presence.Store.Revoke.
	Revoke(ctx context.Context, claims []presence.Claim) ([]presence.RevokeResult, error)
	// RevokeDone records the replacements sent.
	RevokeDone(ctx context.Context, claims []presence.Claim) error
	// StopIfRevoked reports, before a retry, whether a recall asked the push to stop.
	StopIfRevoked(ctx context.Context, c presence.Claim) (bool, error)
}

// errNoRecall is the dead-letter reason of a recall on a Store that cannot recall.
var errNoRecall = errors.New("kind: revoke needs a store that recalls pushes")

// revokeBatch recalls the message m.Revokes on the ordinary devices of one batch of a recall's
// recipients (the fan-out, lanes and member paging are a message's): every device whose push
// was sent gets the replacement (prep's notification, the original's collapse id) with its
// badge one lower when the original counted one; a device whose push was not sent yet never
// gets it. Pushes in flight when the recall comes are asked to stop and tried again every
// busyPoll until they finished or stopped (or their lease ran out).
func (p *Pipeline) revokeBatch(ctx context.Context, j *job, m *event.Message, prep *render.Prepared, recs []presence.Recipient, lane apns.Lane, started func()) bool {
	defer started()
	rc, ok := p.store.(Recaller)
	if !ok {
		return p.deadLetter(ctx, j, nil, "", dlq.InvalidEvent, errNoRecall.Error(), 0)
	}
	var claims []presence.Claim
	var targets []target
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if seen[r.UserID] {
			continue
		}
		seen[r.UserID] = true
		for _, d := range r.Devices {
			topic, ok := p.apns.Topic(d.BusiID)
			if d.Kind == recipient.KindVoIP || !ok || !p.apns.Sends(d.BusiID, apns.Alerts) {
				continue // the original never went to it
			}
			claims = append(claims, presence.Claim{UserID: r.UserID, MsgID: m.Revokes, Token: d.Token, SentAt: m.SentAt})
			targets = append(targets, target{userID: r.UserID, device: d, topic: topic})
		}
	}
	idx := make([]int, len(claims))
	for i := range idx {
		idx[i] = i
	}
	for len(idx) > 0 {
		batch := make([]presence.Claim, len(idx))
		for k, i := range idx {
			batch[k] = claims[i]
		}
		var res []presence.RevokeResult
		if !p.infra(ctx, "presence revoke", func() (err error) { res, err = rc.Revoke(ctx, batch); return }) {
			return false
		}
		var busy []int
		var jobs []*sendJob
		var sent []int
		for k, i := range idx {
			switch res[k].State {
			case presence.RevokeReplace:
				t := targets[i]
				jobs = append(jobs, &sendJob{job: j, msg: m, userID: t.userID, busiID: t.device.BusiID, lane: lane, started: true,
					req: request(prep.Notification(t.device.Token, t.topic, render.Style{}, res[k].Badge))})
				sent = append(sent, i)
			case presence.RevokeBusy:
				busy = append(busy, i)
			case presence.RevokePrevent:
				p.metrics.revokes.Add(ctx, 1, p.metrics.revokePrevented)
			}
		}
		if !p.deliverAll(ctx, lane, jobs) {
			return false
		}
		var done []presence.Claim
		for k, sj := range jobs {
			if !sj.finished {
				return false // ctx ended mid-send: the record stays in flight, the event unfinished
			}
			if sj.deadLettered {
				continue // its record stays in flight: a replay sends it once the lease is over
			}
			c := claims[sent[k]]
			c.Attempts = sj.attempts
			done = append(done, c)
			p.metrics.revokes.Add(ctx, 1, p.metrics.revokeReplaced)
		}
		if len(done) > 0 && !p.infra(ctx, "presence revoke done", func() error { return rc.RevokeDone(ctx, done) }) {
			return false
		}
		if len(busy) == 0 {
			return true
		}
		if !pollBusy(ctx) {
			return false
		}
		idx = busy
	}
	return true
}

// deliverAll delivers jobs, each on a goroutine of its own once it has a push slot, and waits
// for them; false when ctx ended first.
func (p *Pipeline) deliverAll(ctx context.Context, lane apns.Lane, jobs []*sendJob) bool {
	var wg sync.WaitGroup
	for _, sj := range jobs {
		if p.pushes.Acquire(ctx, lane) != nil {
			wg.Wait()
			return false
		}
		wg.Add(1)
		p.gos.Go(func() { defer wg.Done(); p.deliverSlot(ctx, sj) })
	}
	wg.Wait()
	return true
}
