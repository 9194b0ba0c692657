package presence

import (
	"context"
	"fmt"
	"offpush/recipient"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lookup reads everything the pipeline needs about userIDs in one round trip (one HGETALL per
// user, pipelined). The result is in input order; a user without devices has no Devices.
// Foreground is decided against one clock reading for the whole batch.
func (s *Store) Lookup(ctx context.Context, userIDs []string) ([]Recipient, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(userIDs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, u := range userIDs {
			cmds[i] = p.HGetAll(ctx, s.userKey(u))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup %d users: %w", len(userIDs), err)
	}
	now := s.opts.Now().UnixMilli()
	p := parser{devs: make([]recipient.Device, 0, 2*len(userIDs))}
	out := make([]Recipient, len(userIDs))
	for i, c := range cmds {
		out[i] = p.recipient(userIDs[i], c.Val(), now)
	}
	return out, nil
}

// parser turns user hashes into Recipients. Devices of a batch share one backing array
// (each Recipient gets a full slice expression of it, so appending to one copies).
type parser struct {
	devs []recipient.Device
	buf  []byte // field name scratch: a map index with string(buf) does not allocate
}

func (p *parser) recipient(userID string, h map[string]string, nowMs int64) Recipient {
	r := Recipient{UserID: userID}
	start := len(p.devs)
	for f, v := range h {
		if len(f) < 2 || f[1] != ':' {
			continue
		}
		switch f[0] {
		case 'd':
			p.devs = append(p.devs, parseDevice(f[2:], v))
		case 'c':
			setConfig(&r.Settings, f[2:], v)
		case 'r':
			if r.Settings.ReceiveOpts == nil {
				r.Settings.ReceiveOpts = make(map[string]recipient.ReceiveOpt)
			}
			r.Settings.ReceiveOpts[f[2:]] = recipient.ReceiveOpt(v)
		case 'q':
			setWindow(&r.Settings, f[2:], v)
		}
	}
	end := len(p.devs)
	if end == start {
		return r
	}
	r.Devices = p.devs[start:end:end]
	if len(r.Devices) > 1 {
		slices.SortFunc(r.Devices, func(a, b recipient.Device) int { return strings.Compare(a.Token, b.Token) })
	}
	for i := range r.Devices {
		d := &r.Devices[i]
		d.Foreground = p.int(h, 'f', d.Token) > nowMs
		d.Badge = p.int(h, 'b', d.Token)
	}
	return r
}

// int reads field "<kind>:<token>" of h as an integer; absent or malformed is 0.
func (p *parser) int(h map[string]string, kind byte, token string) int64 {
	p.buf = append(append(p.buf[:0], kind, ':'), token...)
	v, ok := h[string(p.buf)]
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// parseDevice parses "busiId|updatedAtUnixMs" with an optional "|v" for a VoIP token (an
// ordinary token keeps the empty Kind); malformed parts read as 0.
func parseDevice(token, v string) recipient.Device {
	d := recipient.Device{Token: token}
	busi, rest, _ := strings.Cut(v, "|")
	ms, kind, _ := strings.Cut(rest, "|")
	if kind == "v" {
		d.Kind = recipient.KindVoIP
	}
	d.BusiID, _ = strconv.Atoi(busi)
	n, _ := strconv.ParseInt(ms, 10, 64)
	d.UpdatedAt = time.UnixMilli(n).UTC()
	return d
}

func setConfig(st *recipient.Settings, name, v string) {
	switch name {
	case "openPush":
		st.OpenPush, _ = strconv.Atoi(v)
	case "c2cSound":
		st.C2CSound = v
	case "groupSound":
		st.GroupSound = v
	case "preview":
		st.Preview = recipient.Preview(v)
	}
}

// setWindow reads the window of the "all" receive option. A malformed one holds never: the
// user receives, rather than being muted by a value nobody can read.
func setWindow(st *recipient.Settings, conv, v string) {
	if conv != recipient.AllConversations {
		return
	}
	w, err := recipient.DecodeWindow(v)
	if err != nil {
		w = recipient.Window{} // a one-time window of no length: never holds
	}
	st.AllWindow = &w
}
