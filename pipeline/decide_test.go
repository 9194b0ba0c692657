package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"offpush/event"
	"offpush/presence"
	"offpush/recipient"
	"offpush/render"
)

// TestDecideMatchesRender: for random messages, settings (receive options, quiet hours,
// preview, sounds, openPush) and devices, the worker's decision for every device (the skip
// reason it counts, or the push it makes, byte for byte) is the one `offpush render` shows,
// render.Render. Both go through render.Prepared.Decide; this pins that neither adds rules of
// its own.
func TestDecideMatchesRender(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	o := Options{Brokers: []string{"unused"}, Meter: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
	o.setDefaults()
	p, err := newPipeline(o, &fakeStore{badges: map[string]int64{}}, senderFunc(nil), noDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	counts := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, mt := range sm.Metrics {
				if mt.Name == "offpush.pushes" {
					for _, dp := range mt.Data.(metricdata.Sum[int64]).DataPoints {
						reason, _ := dp.Attributes.Value("reason")
						out[reason.AsString()] += dp.Value
					}
				}
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC) // a DST switch in New York
	kinds := map[render.Skip]int{}
	for trial := range 300 {
		m, recs := randomCase(rng, base)
		now := base.Add(time.Duration(rng.IntN(48*3600)) * time.Second)
		ro := o.Texts
		ro.Expiry = o.Expiry
		if rng.IntN(4) == 0 {
			ro.LocKeys = true
		}
		prep := render.Prepare(m, ro)

		before := counts()
		targets, ok := p.decide(context.Background(), &job{}, m, prep, recs, now)
		if !ok {
			t.Fatal("decide gave up")
		}
		after := counts()
		got := map[string]int64{}
		for k, v := range after {
			if d := v - before[k]; d != 0 {
				got[k] = d
			}
		}
		pushed := map[string]render.Notification{}
		for _, tg := range targets {
			badge := int64(-1)
			if !prep.IgnoreBadge() {
				badge = render.NextBadge(tg.device.Badge)
			}
			pushed[tg.userID+"/"+tg.device.Token] = prep.Notification(tg.device.Token, tg.topic, tg.style, badge)
		}

		want := map[string]int64{}
		wantPushed := 0
		for i := range recs {
			r := &recs[i]
			targets := 0
			for j := range r.Devices {
				if prep.Targets(&r.Devices[j]) {
					targets++
				}
			}
			if targets == 0 {
				_, skip := render.Render(m, r.UserID, &r.Settings, nil, "", ro, now)
				want[skip.String()]++
				kinds[skip]++
				continue
			}
			for j := range r.Devices {
				d := &r.Devices[j]
				n, skip := render.Render(m, r.UserID, &r.Settings, d, testTopics[d.BusiID], ro, now)
				kinds[skip]++
				if skip == render.OtherKind {
					continue // not a target: nobody counts it
				}
				if skip != render.NoSkip {
					want[skip.String()]++
					continue
				}
				wantPushed++
				g, ok := pushed[r.UserID+"/"+d.Token]
				if !ok {
					t.Fatalf("trial %d: render pushes %s/%s, the worker does not (reasons %v)", trial, r.UserID, d.Token, got)
				}
				if string(g.Payload) != string(n.Payload) || g.Topic != n.Topic || g.CollapseID != n.CollapseID {
					t.Fatalf("trial %d, %s/%s: worker payload %s, render %s", trial, r.UserID, d.Token, g.Payload, n.Payload)
				}
			}
		}
		if len(pushed) != wantPushed {
			t.Fatalf("trial %d: the worker pushes %d devices, render %d", trial, len(pushed), wantPushed)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trial %d at %s: worker skips %v, render %v", trial, now, got, want)
		}
	}
	// The cases must reach every rule, or the comparison proves little.
	for _, s := range []render.Skip{render.NoSkip, render.Foreground, render.PushDisabled, render.NoPushFlag, render.Muted,
		render.NoDevice, render.SelfMessage, render.Expired, render.OtherKind} {
		if kinds[s] == 0 {
			t.Errorf("no case reached %q", s)
		}
	}
}

// randomCase is a message and its recipients' state, drawn from rng; the sender may be a
// recipient, users may have no device.
func randomCase(rng *rand.Rand, base time.Time) (*event.Message, []presence.Recipient) {
	pick := func(n int) bool { return rng.IntN(n) == 0 }
	m := &event.Message{ID: fmt.Sprintf("m-%d", rng.IntN(1000)), ChatType: event.C2C,
		Sender: event.Sender{UserID: "u0", Nickname: "Alice"},
		Elems:  []event.Elem{{Type: event.Text, Text: "hi"}}, SentAt: base.Add(-time.Duration(rng.IntN(30)) * time.Hour)}
	if pick(2) {
		m.ChatType, m.Group, m.Sender.GroupNameCard = event.Group, &event.GroupInfo{ID: "g-1", Name: "Hiking"}, "Ali"
	}
	if pick(3) {
		m.Elems = []event.Elem{{Type: event.Image}}
	}
	op := &event.OfflinePush{}
	if pick(15) {
		op.PushFlag = event.NoPush
	}
	if pick(3) {
		op.IOS = &event.IOS{Sound: []string{"ring.caf", event.NoSound}[rng.IntN(2)], IgnoreBadge: pick(3)}
		if pick(3) {
			op.IOS.PushType = event.PushVoIP
		}
	}
	if pick(4) {
		op.Desc = "secret"
	}
	m.OfflinePush = op
	zones := []string{"", "Asia/Shanghai", "America/New_York"}
	opts := []recipient.ReceiveOpt{recipient.Receive, recipient.NotReceive, recipient.NotNotify, recipient.NotNotifyExceptAt,
		recipient.NotReceiveExceptAt, recipient.Silent}
	recs := make([]presence.Recipient, 1+rng.IntN(8))
	for i := range recs {
		u := fmt.Sprintf("u%d", i)
		if pick(3) {
			m.AtUserIDs = append(m.AtUserIDs, u)
		}
		s := recipient.Settings{OpenPush: rng.IntN(3), Preview: []recipient.Preview{"", recipient.PreviewName, recipient.PreviewNone}[rng.IntN(3)]}
		if pick(2) {
			s.C2CSound, s.GroupSound = "a.caf", "b.caf"
		}
		if pick(2) {
			s.ReceiveOpts = map[string]recipient.ReceiveOpt{}
			for _, conv := range []string{"all", m.ConversationID(), "c2c:other"} {
				if pick(2) {
					s.ReceiveOpts[conv] = opts[rng.IntN(len(opts))]
				}
			}
			if pick(2) {
				var w recipient.Window
				if pick(2) {
					w, _ = recipient.DailyWindow(fmt.Sprintf("%02d:%02d:00", rng.IntN(24), rng.IntN(60)), 1+rng.Int64N(86400), zones[rng.IntN(len(zones))])
				} else {
					w, _ = recipient.OnceWindow(base.Unix()+rng.Int64N(48*3600), 1+rng.Int64N(24*3600))
				}
				s.AllWindow = &w
			}
		}
		r := presence.Recipient{UserID: u, Settings: s}
		for j := range rng.IntN(4) {
			d := recipient.Device{Token: fmt.Sprintf("t%d-%d", i, j), BusiID: 1 + rng.IntN(2), Foreground: pick(4), Badge: rng.Int64N(5)}
			if pick(3) {
				d.Kind = recipient.KindVoIP
			}
			r.Devices = append(r.Devices, d)
		}
		recs[i] = r
		m.Recipients = append(m.Recipients, u)
	}
	return m, recs
}
