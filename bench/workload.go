package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"offpush/event"
	"offpush/presence"
)

// busiID and topic are the one certificate of the bench (the product specification's
// example busiId).
const (
	busiID = 2382
	topic  = "com.example.im"
)

// workload is the deterministic event mix of one run: the producer child builds event i and
// the bench counts its recipients from the seed alone, without passing events around.
//
// Users are u0…u(Users-1), each with Devices device tokens. There are Groups groups; group j
// has a fixed fan-out k in [GroupMin, GroupMax] and k+1 consecutive members (the sender
// first). Event i is a group message to a random group with probability GroupShare, else a
// one-to-one message between two random users.
//
// With HotMessages > 0 (--profile hot-group) the mix is by index instead: event 0 is a
// one-to-one message (it opens the window), events 1…HotMessages are messages of the hot
// group, group number Groups, whose sender is u0 and whose HotMembers recipients are
// u1…uHotMembers, and every later event is a one-to-one message.
type workload struct {
	Run          string  `json:"run"` // prefix of message ids, unique per run
	Seed         uint64  `json:"seed"`
	Events       int     `json:"events"`
	Users        int     `json:"users"`
	Devices      int     `json:"devices"`
	Groups       int     `json:"groups"`
	GroupShare   float64 `json:"groupShare"`
	GroupMin     int     `json:"groupMin"`
	GroupMax     int     `json:"groupMax"`
	PayloadBytes int     `json:"payloadBytes"`
	HotMembers   int     `json:"hotMembers,omitempty"`
	HotMessages  int     `json:"hotMessages,omitempty"`
	// Members: group events leave recipients out (--profile big-groups); the groups'
	// membership is seeded instead (seedMembers).
	Members bool `json:"members,omitempty"`
}

// Streams of the seeded generator, so that draws for one purpose never shift another's.
const (
	streamEvent = iota + 1
	streamGroup
	streamDevice
)

func (w *workload) rng(stream, i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(w.Seed, stream<<56|i))
}

// shape is event i's kind: its group (-1 for one-to-one) and its number of recipients. The
// rng it returns continues the event's stream.
func (w *workload) shape(i int) (group, recipients int, r *rand.Rand) {
	r = w.rng(streamEvent, uint64(i))
	switch {
	case w.hot(i):
		return w.Groups, w.HotMembers, r
	case w.HotMessages > 0 || r.Float64() >= w.GroupShare:
		return -1, 1, r
	}
	g := r.IntN(w.Groups)
	k, _ := w.group(g)
	return g, k, r
}

// hot reports whether event i is a message of the hot group.
func (w *workload) hot(i int) bool { return i >= 1 && i <= w.HotMessages }

// firstC2C is the index of the first one-to-one event after the hot group's messages.
func (w *workload) firstC2C() int { return 1 + w.HotMessages }

// group is group g's fan-out and the index of its first member (the sender).
func (w *workload) group(g int) (fanout, first int) {
	if g == w.Groups { // the hot group
		return w.HotMembers, 0
	}
	r := w.rng(streamGroup, uint64(g))
	return w.GroupMin + r.IntN(w.GroupMax-w.GroupMin+1), r.IntN(w.Users)
}

// outcomes is the number of push outcomes the pipeline will record for events [0, n): one
// per recipient device.
func (w *workload) outcomes(n int) int64 {
	var total int64
	for i := range n {
		_, k, _ := w.shape(i)
		total += int64(k * w.Devices)
	}
	return total
}

func userID(u int) string { return "u" + strconv.Itoa(u) }

// token is device d of user u: 64 hex digits, unique per (user, device).
func (w *workload) token(u, d int) string {
	return fmt.Sprintf("%016x%048x", 0xbe7c4, u*w.Devices+d)
}

// msgID is the id of event i published at ms: the latency join reads the publish time from
// the apns-collapse-id the simulator records.
func (w *workload) msgID(i int, ms int64) string {
	return w.Run + "-" + strconv.Itoa(i) + "-" + strconv.FormatInt(ms, 10)
}

// event builds event i as published at at.
func (w *workload) event(i int, at time.Time) *event.Message {
	at = time.UnixMilli(at.UnixMilli()).UTC()
	g, k, r := w.shape(i)
	m := &event.Message{
		ID:     w.msgID(i, at.UnixMilli()),
		Elems:  []event.Elem{{Type: event.Text, Text: w.text(i)}},
		SentAt: at,
	}
	if g < 0 {
		from := r.IntN(w.Users)
		to := (from + 1 + r.IntN(w.Users-1)) % w.Users
		m.ChatType, m.Recipients = event.C2C, []string{userID(to)}
		m.Sender = event.Sender{UserID: userID(from), Nickname: "User " + strconv.Itoa(from)}
		return m
	}
	_, first := w.group(g)
	m.ChatType = event.Group
	m.Group = &event.GroupInfo{ID: "g" + strconv.Itoa(g), Name: "Group " + strconv.Itoa(g)}
	m.Sender = event.Sender{UserID: userID(first), Nickname: "User " + strconv.Itoa(first)}
	if w.Members {
		return m
	}
	m.Recipients = make([]string, k)
	for j := range k {
		m.Recipients[j] = userID((first + 1 + j) % w.Users)
	}
	return m
}

const filler = "see you at eight at the usual place, bring the maps and something to eat. "

// text is the message text of event i, PayloadBytes long.
func (w *workload) text(i int) string {
	var b strings.Builder
	b.WriteString("#" + strconv.Itoa(i) + " ")
	for b.Len() < w.PayloadBytes {
		b.WriteString(filler)
	}
	return b.String()[:max(w.PayloadBytes, 1)]
}

// foreground reports whether device d of user u starts in the foreground.
func (w *workload) foreground(u, d int, share float64) bool {
	return w.rng(streamDevice, uint64(u*w.Devices+d)).Float64() < share
}

// seedConcurrency is the number of goroutines that register devices.
const seedConcurrency = 64

// seed registers every device through presence.Store (the only code that writes its schema)
// and puts it in the foreground or the background (badge = u mod 5). It returns the number of
// foreground devices.
func (w *workload) seed(ctx context.Context, store *presence.Store, fgShare float64) (int, error) {
	users := make(chan int)
	var mu sync.Mutex
	var firstErr error
	fg := 0
	var wg sync.WaitGroup
	for range seedConcurrency {
		wg.Go(func() {
			for u := range users {
				n, err := w.seedUser(ctx, store, u, fgShare)
				mu.Lock()
				fg += n
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for u := 0; u < w.Users && ctx.Err() == nil; u++ {
		users <- u
	}
	close(users)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return fg, firstErr
}

func (w *workload) seedUser(ctx context.Context, store *presence.Store, u int, fgShare float64) (int, error) {
	fg := 0
	for d := range w.Devices {
		tok := w.token(u, d)
		if err := store.SetToken(ctx, userID(u), tok, busiID); err != nil {
			return fg, err
		}
		var err error
		if w.foreground(u, d, fgShare) {
			fg++
			err = store.Foreground(ctx, userID(u), tok)
		} else {
			err = store.Background(ctx, userID(u), tok, int64(u%5))
		}
		if err != nil {
			return fg, err
		}
	}
	return fg, nil
}
