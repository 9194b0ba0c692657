package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"offpush/apns"
	"offpush/dlq"
	"offpush/event"
	"offpush/presence"
	"offpush/render"
)

// MemberStore resolves the members of a group for events without recipients
// (event.Message.ToMembers); *presence.Store implements it. A Store without it dead-letters
// such events.
type MemberStore interface {
	// MembersPage reads up to count members of groupID after after, from the member list
	// version ("" for the current one); see presence.Store.MembersPage.
	MembersPage(ctx context.Context, groupID, version, after string, count int) (presence.MemberPage, error)
}

// errNoMembers is the dead-letter reason of an event without recipients on a Store that
// cannot resolve group members.
var errNoMembers = errors.New("recipients: required: this worker's store has no group membership")

// fanOutMembers is fanOut for an event without recipients: it pushes to the group's current
// members minus the sender, read page by page (BatchSize members a page, in byte order) into
// the same pipelined fan-out, so at most FanoutWindow pages are held at once whatever the
// group's size. The first page also reads the member count, which decides the lane: a group
// of more than LargeEvent members is large (the bulk lane), as a recipient list that long is.
//
// Every page comes from the member list version of the first (a replace in the middle of the
// fan-out does not mix two lists). Paging is by member, so a member present throughout is
// pushed once; a member who joins or leaves during the fan-out is pushed or not depending on
// whether the fan-out had passed them. A redelivered event (a crash mid-fan-out) reads the
// current list again, and the dedupe claims skip the members already pushed: no one is
// pushed twice, and everyone who is a member when it runs again is pushed.
func (p *Pipeline) fanOutMembers(ctx context.Context, j *job, m *event.Message, prep *render.Prepared) bool {
	ms, ok := p.store.(MemberStore)
	if !ok {
		return p.deadLetter(ctx, j, nil, "", dlq.InvalidEvent, errNoMembers.Error(), 0)
	}
	group := m.Group.ID
	read := func(version, after string) (page presence.MemberPage, ok bool) {
		ok = p.infra(ctx, "presence members", func() (err error) {
			page, err = ms.MembersPage(ctx, group, version, after, p.opts.BatchSize)
			return
		})
		return page, ok
	}
	page, ok := read("", "")
	if !ok {
		return false
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.Int64("offpush.group.members", page.Size))
	}
	lane := apns.Fast
	if page.Size > int64(p.opts.LargeEvent) {
		lane = apns.Bulk
	}
	if !page.More && lane == apns.Fast {
		users := withoutSender(page.UserIDs, m.Sender.UserID)
		p.metrics.recipients.Add(int64(len(users)))
		return p.processSmall(ctx, j, m, prep, users)
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	window := make(chan struct{}, p.opts.FanoutWindow)
	for !failed.Load() {
		if users := withoutSender(page.UserIDs, m.Sender.UserID); len(users) > 0 {
			p.metrics.recipients.Add(int64(len(users)))
			if !p.startBatch(ctx, &wg, &failed, window, j, m, prep, users, lane) {
				failed.Store(true)
				break
			}
		}
		if !page.More {
			break
		}
		if page, ok = read(page.Version, page.UserIDs[len(page.UserIDs)-1]); !ok {
			failed.Store(true)
		}
	}
	wg.Wait()
	return !failed.Load()
}

// startBatch starts one batch of a windowed fan-out once it has a slot of window (and of the
// bulk lane for a large event); false means ctx ended first.
func (p *Pipeline) startBatch(ctx context.Context, wg *sync.WaitGroup, failed *atomic.Bool, window chan struct{},
	j *job, m *event.Message, prep *render.Prepared, users []string, lane apns.Lane) bool {
	if !acquire(ctx, window) {
		return false
	}
	if lane == apns.Bulk && !acquire(ctx, p.bulk) {
		<-window
		return false
	}
	started := sync.OnceFunc(func() {
		if lane == apns.Bulk {
			<-p.bulk
		}
		<-window
	})
	wg.Go(func() {
		defer started()
		if !p.processBatch(ctx, j, m, prep, users, lane, started) {
			failed.Store(true)
		}
	})
	return true
}

// withoutSender is users without sender (a group's members include the author).
func withoutSender(users []string, sender string) []string {
	for i, u := range users {
		if u == sender {
			return append(users[:i:i], users[i+1:]...)
		}
	}
	return users
}
