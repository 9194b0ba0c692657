package chaos

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"offpush/presence"
	"offpush/recipient"
)

// Certificates the workers are configured with, and a busiId none of them has.
const (
	P12BusiID     = 2382 // certificate auth (.p12)
	P12Topic      = "com.example.im"
	P8BusiID      = 2516 // token auth (.p8)
	P8Topic       = "com.example.im.enterprise"
	UnknownBusiID = 9999 // devices registered with it end in the DLQ as unknown_certificate
)

// WorkloadSpec sizes a generated workload.
type WorkloadSpec struct {
	Users            int
	C2C              int // one-to-one events
	Groups           int // group events, one per group
	GroupMin         int // recipients of a group event, at least
	GroupMax         int // and at most
	UnknownCertUsers int // users whose one device has UnknownBusiID
	Seed             uint64
	// Recall is the share of c2c events followed by a recall (kind revoke) of them, in the
	// same conversation: half within the next few dozen events (before the original is
	// pushed, usually), half a few hundred events later (after it). 0: none.
	Recall float64
}

// FullWorkload is the workload of `make chaos`: 2000 c2c events and 100 groups of 20–50.
var FullWorkload = WorkloadSpec{Users: 1000, C2C: 2000, Groups: 100, GroupMin: 20, GroupMax: 50, UnknownCertUsers: 5, Seed: 1}

// ShortWorkload is the smaller workload of the scenarios that run in `make test`.
var ShortWorkload = WorkloadSpec{Users: 300, C2C: 600, Groups: 20, GroupMin: 10, GroupMax: 30, UnknownCertUsers: 3, Seed: 2}

// Device is one generated device and the state it is seeded with.
type Device struct {
	Token      string
	BusiID     int
	Foreground bool
	Unread     int64
}

// User is one generated user: push off (openPush 2) or on, and 0–2 devices.
type User struct {
	ID      string
	PushOff bool
	Devices []Device
}

// Event is one generated message event.
type Event struct {
	ID         string
	Key        string // the conversation, the Kafka key
	Value      []byte
	Recipients []string
	NoPush     bool
	Revokes    string // a recall: the id of the message it recalls
}

// Pair is one (message, device): the unit of the ledger. Msg is the apns-collapse-id.
type Pair struct{ Msg, Token string }

// Workload is the users, the events and what the events must cause.
type Workload struct {
	Users  []User
	Events []Event
	// Pushes are the (message, device) pairs to deliver, with their recipient.
	Pushes map[Pair]string
	// DLQ are the pairs that must end in the dead-letter topic, with the reason.
	DLQ map[Pair]string
	// Skips are the skipped units by reason, counted as the pipeline's metrics count them.
	Skips map[string]int
	// Recalls maps each recalled message's id to its recall's id.
	Recalls map[string]string
	users   map[string]*User
}

// NewWorkload generates the workload of spec, deterministically from its seed.
func NewWorkload(spec WorkloadSpec) *Workload {
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	w := &Workload{Pushes: map[Pair]string{}, DLQ: map[Pair]string{}, Skips: map[string]int{}, Recalls: map[string]string{}, users: map[string]*User{}}
	for i := range spec.Users {
		w.Users = append(w.Users, newUser(rng, fmt.Sprintf("u%04d", i), i >= spec.Users-spec.UnknownCertUsers))
	}
	for i := range w.Users {
		w.users[w.Users[i].ID] = &w.Users[i]
	}
	for i := range spec.C2C {
		w.Events = append(w.Events, w.c2cEvent(rng, i))
	}
	for i := range spec.Groups {
		w.Events = append(w.Events, w.groupEvent(rng, i, spec.GroupMin, spec.GroupMax))
	}
	rng.Shuffle(len(w.Events), func(i, j int) { w.Events[i], w.Events[j] = w.Events[j], w.Events[i] })
	for _, e := range w.Events {
		w.expect(e)
	}
	if spec.Recall > 0 {
		// A generator of its own: the other workloads' events stay what they were.
		w.addRecalls(rand.New(rand.NewPCG(spec.Seed^0x7265766f6b65, spec.Seed)), spec.Recall)
	}
	return w
}

// addRecalls follows share of the c2c events by a recall of them: half of them 1–40 events
// later (the same or the next batch of Stream: usually before the original is pushed), half
// 150–700 events later (after it). A recall expects nothing of its own: what it does is
// checked per recalled push (Ledger.Recall).
func (w *Workload) addRecalls(rng *rand.Rand, share float64) {
	type slot struct {
		at float64
		e  Event
	}
	out := make([]slot, 0, len(w.Events)*6/5)
	for i, e := range w.Events {
		out = append(out, slot{float64(i), e})
		if !strings.HasPrefix(e.Key, "c2c:") || rng.Float64() >= share {
			continue
		}
		later := 1 + rng.IntN(40)
		if rng.IntN(2) == 1 {
			later = 150 + rng.IntN(551)
		}
		r := recallEvent(e)
		w.Recalls[e.ID] = r.ID
		out = append(out, slot{float64(i+later) + 0.5, r})
	}
	slices.SortStableFunc(out, func(a, b slot) int { return cmp.Compare(a.at, b.at) })
	w.Events = w.Events[:0]
	for _, s := range out {
		w.Events = append(w.Events, s.e)
	}
}

// recallEvent is the recall of the c2c event e: kind revoke, the same sender, recipient and
// conversation key.
func recallEvent(e Event) Event {
	var orig eventJSON
	if err := json.Unmarshal(e.Value, &orig); err != nil {
		panic(err) // not reached: e was made by newEvent
	}
	ev := eventJSON{ID: "r" + e.ID, Kind: "revoke", Revokes: e.ID, ChatType: orig.ChatType, Sender: orig.Sender, Recipients: orig.Recipients}
	r := newEvent(ev, e.Key, false)
	r.Revokes = e.ID
	return r
}

// newUser draws a user: 5% without devices, 60% with one, 35% with two; 7% push off; 15% of
// devices in the foreground. An unknownCert user has one background device of UnknownBusiID.
func newUser(rng *rand.Rand, id string, unknownCert bool) User {
	u := User{ID: id}
	if unknownCert {
		u.Devices = []Device{{Token: token(rng), BusiID: UnknownBusiID}}
		return u
	}
	n := 2
	switch r := rng.Float64(); {
	case r < 0.05:
		n = 0
	case r < 0.65:
		n = 1
	}
	for range n {
		d := Device{Token: token(rng), BusiID: P12BusiID, Foreground: rng.Float64() < 0.15, Unread: rng.Int64N(5)}
		if rng.IntN(2) == 1 {
			d.BusiID = P8BusiID
		}
		u.Devices = append(u.Devices, d)
	}
	u.PushOff = n > 0 && rng.Float64() < 0.07
	return u
}

// token is a random 32-byte device token in hex, as APNs issues them.
func token(rng *rand.Rand) string {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return hex.EncodeToString(b)
}

// eventJSON is the message event (package event), with the fields the workload uses.
type eventJSON struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind,omitempty"`
	Revokes     string            `json:"revokes,omitempty"`
	ChatType    string            `json:"chatType"`
	Sender      map[string]string `json:"sender"`
	Group       map[string]string `json:"group,omitempty"`
	Recipients  []string          `json:"recipients"`
	Elems       []map[string]any  `json:"elems,omitempty"`
	OfflinePush map[string]any    `json:"offlinePush,omitempty"`
	SentAt      string            `json:"sentAt"`
}

// c2cEvent is a one-to-one text message between two distinct users; 3% say pushFlag noPush.
func (w *Workload) c2cEvent(rng *rand.Rand, i int) Event {
	a := rng.IntN(len(w.Users))
	b := (a + 1 + rng.IntN(len(w.Users)-1)) % len(w.Users)
	from, to := w.Users[a].ID, w.Users[b].ID
	ev := eventJSON{
		ID: fmt.Sprintf("c%05d", i), ChatType: "c2c",
		Sender:     map[string]string{"userId": from, "nickname": "Nick " + from},
		Recipients: []string{to},
		Elems:      []map[string]any{{"type": "text", "text": fmt.Sprintf("message %d from %s", i, from)}},
	}
	noPush := rng.Float64() < 0.03
	if noPush {
		ev.OfflinePush = map[string]any{"pushFlag": "noPush"}
	}
	return newEvent(ev, "c2c:"+min(from, to)+":"+max(from, to), noPush)
}

// groupEvent is a text message to a group of lo..hi recipients (the sender excluded).
func (w *Workload) groupEvent(rng *rand.Rand, i, lo, hi int) Event {
	perm := rng.Perm(len(w.Users))
	n := min(lo+rng.IntN(hi-lo+1), len(w.Users)-1)
	sender := w.Users[perm[0]].ID
	var to []string
	for _, k := range perm[1 : n+1] {
		to = append(to, w.Users[k].ID)
	}
	gid := fmt.Sprintf("g%03d", i)
	ev := eventJSON{
		ID: gid + "-m", ChatType: "group",
		Sender:     map[string]string{"userId": sender, "nickname": "Nick " + sender, "groupNameCard": "Card " + sender},
		Group:      map[string]string{"id": gid, "name": "Group " + gid},
		Recipients: to,
		Elems:      []map[string]any{{"type": "text", "text": "hello " + gid}, {"type": "image"}},
	}
	return newEvent(ev, "group:"+gid, false)
}

func newEvent(ev eventJSON, key string, noPush bool) Event {
	ev.SentAt = time.Now().UTC().Format(time.RFC3339)
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // not reached: plain maps and strings
	}
	return Event{ID: ev.ID, Key: key, Value: b, Recipients: ev.Recipients, NoPush: noPush}
}

// expect adds what e must cause, in the pipeline's order of rules: noPush for the whole
// message; per recipient no_device, then push_disabled (one per device); per device
// foreground, then an unknown certificate (DLQ), else a push.
func (w *Workload) expect(e Event) {
	if e.NoPush {
		w.Skips["no_push_flag"] += len(e.Recipients)
		return
	}
	for _, id := range e.Recipients {
		u := w.users[id]
		switch {
		case len(u.Devices) == 0:
			w.Skips["no_device"]++
			continue
		case u.PushOff:
			w.Skips["push_disabled"] += len(u.Devices)
			continue
		}
		for _, d := range u.Devices {
			p := Pair{e.ID, d.Token}
			switch {
			case d.Foreground:
				w.Skips["foreground"]++
			case d.BusiID == UnknownBusiID:
				w.DLQ[p] = "unknown_certificate"
			default:
				w.Pushes[p] = id
			}
		}
	}
}

// SkipTotal is the number of expected skipped units.
func (w *Workload) SkipTotal() int {
	n := 0
	for _, v := range w.Skips {
		n += v
	}
	return n
}

// Seed writes the users' devices, states and settings to Redis through the presence store.
func (w *Workload) Seed(ctx context.Context, s *presence.Store) error {
	for _, u := range w.Users {
		for _, d := range u.Devices {
			if err := s.SetToken(ctx, u.ID, d.Token, d.BusiID); err != nil {
				return err
			}
			var err error
			if d.Foreground {
				err = s.Foreground(ctx, u.ID, d.Token)
			} else {
				err = s.Background(ctx, u.ID, d.Token, d.Unread)
			}
			if err != nil {
				return err
			}
		}
		if u.PushOff {
			if err := s.SetSettings(ctx, u.ID, recipient.Settings{OpenPush: recipient.OpenPushOff}); err != nil {
				return err
			}
		}
	}
	return nil
}
