package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/embedkafka"
	"offpush/event"
	"offpush/presence"
	"offpush/recipient"
)

// demoDevice is one device the demo registers.
type demoDevice struct {
	user, name, token string
	busiID            int
	unread            int64
	foreground        bool
	voip              bool // a PushKit token (setVOIP)
}

// demoDevices cover every certificate kind and the skip rules: bob has a background iPhone and
// a foreground iPad, carol uses the enterprise app (token auth), dave turned push off, erin
// runs a development build, frank muted the hiking group; in the book club, grace is in her
// quiet hours, henry gets his pushes silently and ivy hides previews. Bob's iPhone also has a
// VoIP token (the VoIP Services certificate 2390), for the call.
var demoDevices = []demoDevice{
	{"bob", "iPhone", strings.Repeat("b0", 32), 2382, 2, false, false},
	{"bob", "VoIP", strings.Repeat("b2", 32), 2390, 0, false, true},
	{"bob", "iPad", strings.Repeat("b1", 32), 2382, 0, true, false},
	{"carol", "iPhone", strings.Repeat("c0", 32), 2516, 0, false, false},
	{"dave", "iPhone", strings.Repeat("d0", 32), 2382, 0, false, false},
	{"erin", "iPhone", strings.Repeat("e0", 32), 2383, 5, false, false},
	{"frank", "iPhone", strings.Repeat("f0", 32), 2382, 0, false, false},
	{"grace", "iPhone", strings.Repeat("9a", 32), 2382, 0, false, false},
	{"henry", "iPhone", strings.Repeat("9b", 32), 2382, 0, false, false},
	{"ivy", "iPhone", strings.Repeat("9c", 32), 2382, 0, false, false},
}

// demoEvents are c2c and group messages of every elem type and per-message option.
var demoEvents = []string{
	`{"id":"demo-1","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"text","text":"see you at 8"}]}`,
	`{"id":"demo-2","chatType":"group","sender":{"userId":"alice","nickname":"Alice","groupNameCard":"Ali"},"group":{"id":"g-42","name":"Hiking"},"recipients":["bob","carol","dave","erin","frank"],"elems":[{"type":"text","text":"photos from Sunday "},{"type":"image"}],"offlinePush":{"ios":{"subtitle":"3 photos","image":"https://cdn.example.com/hike.jpg"}}}`,
	`{"id":"demo-3","chatType":"group","sender":{"userId":"carol","nickname":"Carol"},"group":{"id":"g-42","name":"Hiking"},"recipients":["bob","erin"],"elems":[{"type":"voice"}]}`,
	`{"id":"demo-4","chatType":"c2c","sender":{"userId":"erin","nickname":"Erin"},"recipients":["carol"],"elems":[{"type":"file"}]}`,
	`{"id":"demo-5","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"custom","desc":"Payment received","data":"{\"amount\":12}"}]}`,
	`{"id":"demo-6","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"custom","data":"typing"}]}`,
	`{"id":"demo-7","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"text","text":"psst"}],"offlinePush":{"title":"Secret","desc":"You have a new message","ext":"{\"open\":\"chat/alice\"}","ios":{"sound":"push.no_sound","ignoreBadge":true}}}`,
	`{"id":"demo-8","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"text","text":"read receipt"}],"offlinePush":{"pushFlag":"noPush"}}`,
	`{"id":"demo-10","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"text","text":"calling"}],"offlinePush":{"ext":"{\"room\":\"r-1\"}","ios":{"pushType":"voip"}}}`,
	`{"id":"demo-11","kind":"revoke","revokes":"demo-5","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"]}`,
	`{"id":"demo-9","chatType":"group","sender":{"userId":"alice","nickname":"Alice"},"group":{"id":"g-7","name":"Book club"},"recipients":["grace","henry","ivy"],"elems":[{"type":"text","text":"chapter 3 tonight?"}]}`,
}

// runDemo waits for the worker, seeds the demo state and publishes the demo events.
func runDemo(ctx context.Context, started <-chan *Worker, k *embedkafka.Cluster, topic, curl string, skip bool, printer *pushPrinter, out io.Writer) error {
	var w *Worker
	select {
	case <-ctx.Done():
		return ctx.Err()
	case w = <-started:
	}
	if skip {
		fmt.Fprintln(out, "ready: publish events with `offpush publish --brokers "+k.Brokers[0]+" --topic "+topic+" FILE` or kcat")
		return nil
	}
	if err := seedDemo(ctx, w.Store, printer); err != nil {
		return err
	}
	msgs := make([]kafka.Message, len(demoEvents))
	for i, e := range demoEvents {
		m, err := event.Decode([]byte(e))
		if err != nil {
			return fmt.Errorf("demo event %d: %w", i, err)
		}
		msgs[i] = kafka.Message{Key: []byte(m.Key()), Value: []byte(e)}
	}
	if err := k.Produce(ctx, topic, msgs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "demo: published %d messages to %s. Expected: 13 pushes (henry's silent, ivy's without preview, a call to bob's VoIP token, the recall of demo-5 replacing it); skipped: bob's iPad (foreground), dave (push off), frank (muted group), grace (quiet hours), demo-6 (custom elem without desc), demo-8 (noPush).\n"+
		"Try more: offpush publish --brokers %s --topic %s FILE, or the state API:\n"+
		"  %s\nCtrl-C stops.\n\n",
		len(msgs), topic, k.Brokers[0], topic, curl)
	return nil
}

func seedDemo(ctx context.Context, s *presence.Store, printer *pushPrinter) error {
	for _, d := range demoDevices {
		printer.name(d.token, d.user+"/"+d.name)
		register := s.SetToken
		if d.voip {
			register = s.SetVoIPToken
		}
		if err := register(ctx, d.user, d.token, d.busiID); err != nil {
			return err
		}
		state := s.Background(ctx, d.user, d.token, d.unread)
		if d.foreground {
			state = s.Foreground(ctx, d.user, d.token)
		}
		if state != nil {
			return state
		}
	}
	if err := s.SetSettings(ctx, "bob", recipient.Settings{C2CSound: "ding.caf", GroupSound: "group.caf"}); err != nil {
		return err
	}
	if err := s.SetSettings(ctx, "dave", recipient.Settings{OpenPush: recipient.OpenPushOff}); err != nil {
		return err
	}
	if err := s.SetReceiveOpt(ctx, "frank", "group:g-42", recipient.NotNotify); err != nil {
		return err
	}
	// grace: quiet hours for the next hour, from now.
	quiet, err := recipient.OnceWindow(time.Now().Add(-time.Minute).Unix(), 3600)
	if err != nil {
		return err
	}
	if err := s.SetReceiveWindow(ctx, "grace", recipient.NotNotify, quiet); err != nil {
		return err
	}
	if err := s.SetReceiveOpt(ctx, "henry", recipient.AllConversations, recipient.Silent); err != nil {
		return err
	}
	return s.SetSettings(ctx, "ivy", recipient.Settings{Preview: recipient.PreviewNone})
}

// pushPrinter turns the simulator's delivery lines into one readable line per push.
type pushPrinter struct {
	mu    sync.Mutex
	out   io.Writer
	buf   []byte
	names map[string]string
}

func newPushPrinter(out io.Writer) *pushPrinter {
	return &pushPrinter{out: out, names: map[string]string{}}
}

func (p *pushPrinter) name(token, name string) {
	p.mu.Lock()
	p.names[token] = name
	p.mu.Unlock()
}

// Write takes JSON lines (possibly split across writes) and prints each delivery.
func (p *pushPrinter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.print(p.buf[:i])
		p.buf = p.buf[i+1:]
	}
}

type demoDelivery struct {
	Token   string `json:"token"`
	Headers struct {
		Topic      string `json:"apns-topic"`
		PushType   string `json:"apns-push-type"`
		CollapseID string `json:"apns-collapse-id"`
	} `json:"headers"`
	Payload struct {
		APS struct {
			Alert struct{ Title, Subtitle, Body string } `json:"alert"`
			Badge *int                                   `json:"badge"`
			Sound string                                 `json:"sound"`
			Level string                                 `json:"interruption-level"`
		} `json:"aps"`
		Ext   string `json:"ext"`
		Image string `json:"image"`
		From  string `json:"from"` // VoIP
	} `json:"payload"`
}

func (p *pushPrinter) print(line []byte) {
	var d demoDelivery
	if err := json.Unmarshal(line, &d); err != nil {
		fmt.Fprintf(p.out, "push  (unreadable delivery: %v)\n", err)
		return
	}
	who := p.names[d.Token]
	if who == "" {
		who = d.Token[:min(12, len(d.Token))] + "…"
	}
	a := d.Payload.APS
	text := a.Alert.Body
	if d.Headers.PushType == "voip" {
		text = "call from " + d.Payload.From
	}
	if a.Alert.Title != "" {
		text = a.Alert.Title + " — " + text
	}
	extra := ""
	if a.Badge != nil {
		extra += fmt.Sprintf(" badge=%d", *a.Badge)
	}
	if a.Sound != "" {
		extra += " sound=" + a.Sound
	}
	if a.Level != "" {
		extra += " interruption-level=" + a.Level
	}
	if a.Alert.Subtitle != "" {
		extra += " subtitle=" + a.Alert.Subtitle
	}
	if d.Payload.Image != "" {
		extra += " image=" + d.Payload.Image
	}
	if d.Payload.Ext != "" {
		extra += " ext=" + d.Payload.Ext
	}
	fmt.Fprintf(p.out, "push  %-13s %-26s %-8s %q%s\n", who, d.Headers.Topic, d.Headers.CollapseID, text, extra)
}
