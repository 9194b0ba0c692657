package rendercmd

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"offpush/render"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	groupEvent = `{"id":"m1","chatType":"group","sender":{"userId":"alice","nickname":"Alice","groupNameCard":"Ali"},
"group":{"id":"g-42","name":"Hiking"},"recipients":["bob","carol","dave","alice"],
"elems":[{"type":"text","text":"see you at 8 <b>"},{"type":"image"}],"atUserIds":["carol"],
"offlinePush":{"ext":"e&"},"sentAt":"2026-11-25T10:00:00Z"}`
	c2cEvent = `{"id":"m2","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob","erin"],
"elems":[{"type":"text","text":"hi"}],"offlinePush":{"title":"DM","ios":{"sound":"ring.caf","ignoreBadge":true}},
"sentAt":"2026-11-25T10:00:00Z"}`
	settings = `{"users":{
"bob":{"apnsConfig":{"openPush":1,"c2cSound":"a.caf","groupSound":"b.caf"},"devices":[
  {"token":"aa","busiId":2382,"state":"background","badge":3},
  {"token":"bb","busiId":2382,"state":"foreground","badge":3},
  {"token":"cc","busiId":9,"badge":0}]},
"carol":{"receiveOpts":{"group:g-42":"notNotifyExceptAt"},"devices":[{"token":"dd","busiId":2516}]},
"dave":{"receiveOpts":{"all":"notNotify"},"devices":[{"token":"ee","busiId":2382}]},
"erin":{"apnsConfig":{"openPush":2},"devices":[{"token":"ff","busiId":2382}]}},
"certificates":[{"id":2382,"bundleId":"com.example.im"},{"id":2516,"bundleId":"com.example.im.enterprise"}]}`
	now = "--at=2026-11-25T10:01:00Z"
)

// h1 and h2 are the headers of the m1 and m2 pushes to token: expiration is sentAt + 24h.
func h1(token string) string {
	return `"headers":{"apns-topic":"com.example.im","apns-push-type":"alert","apns-priority":"10","apns-expiration":"1795687200","apns-collapse-id":"m1","apns-id":"` + render.APNsID("m1", token) + `"}`
}

func h2(token string) string {
	return `"headers":{"apns-topic":"com.example.im","apns-push-type":"alert","apns-priority":"10","apns-expiration":"1795687200","apns-collapse-id":"m2","apns-id":"` + render.APNsID("m2", token) + `"}`
}

func file(t *testing.T, content string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

func TestRun(t *testing.T) {
	st := file(t, settings)
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  []string
	}{
		// group with settings: bob's background device pushed with his groupSound and badge 3+1,
		// his foreground device skipped, his unknown certificate reported; carol is @-mentioned
		// through notNotifyExceptAt (enterprise topic); dave is muted by "all"; the sender is
		// skipped even without devices.
		{"group", []string{"--event", file(t, groupEvent), "--settings", st, now}, "", []string{
			`{"userId":"bob","token":"aa","skip":null,` + h1("aa") + `,` + p1("4", "b.caf") + `}`,
			`{"userId":"bob","token":"bb","skip":"foreground","headers":null,"payload":null}`,
			`{"userId":"bob","token":"cc","skip":null,"error":"unknown_certificate","headers":null,"payload":null}`,
			`{"userId":"carol","token":"dd","skip":null,` + strings.Replace(h1("dd"), `"com.example.im"`, `"com.example.im.enterprise"`, 1) +
				`,` + p1("1", "default") + `}`,
			`{"userId":"dave","token":"ee","skip":"muted","headers":null,"payload":null}`,
			`{"userId":"alice","token":null,"skip":"self_message","headers":null,"payload":null}`,
		}},
		// c2c from stdin: title, message sound over bob's c2cSound, ignoreBadge; erin has push off.
		{"c2c stdin", []string{"--event", "-", "--settings", st, now}, c2cEvent, []string{
			`{"userId":"bob","token":"aa","skip":null,` + h2("aa") + `,"payload":{"aps":{"alert":{"title":"DM","body":"Alice: hi"},"sound":"ring.caf","thread-id":"alice"},"conv":"c2c:alice"}}`,
			`{"userId":"bob","token":"bb","skip":"foreground","headers":null,"payload":null}`,
			`{"userId":"bob","token":"cc","skip":null,"error":"unknown_certificate","headers":null,"payload":null}`,
			`{"userId":"erin","token":"ff","skip":"push_disabled","headers":null,"payload":null}`,
		}},
		// no settings: one background device "-" with badge 0 per recipient, dev certificates.
		{"no settings", []string{"--event", file(t, groupEvent), now}, "", []string{
			`{"userId":"bob","token":"-","skip":null,` + h1("-") + `,` + p1("1", "default") + `}`,
			`{"userId":"carol","token":"-","skip":null,` + h1("-") + `,` + p1("1", "default") + `}`,
			`{"userId":"dave","token":"-","skip":null,` + h1("-") + `,` + p1("1", "default") + `}`,
			`{"userId":"alice","token":"-","skip":"self_message","headers":null,"payload":null}`,
		}},
		// a settings file without the user: no device.
		{"user not in settings", []string{"--event", file(t, groupEvent), "--settings", file(t, `{"users":{}}`), now}, "", []string{
			`{"userId":"bob","token":null,"skip":"no_device","headers":null,"payload":null}`,
			`{"userId":"carol","token":null,"skip":"no_device","headers":null,"payload":null}`,
			`{"userId":"dave","token":null,"skip":"no_device","headers":null,"payload":null}`,
			`{"userId":"alice","token":null,"skip":"self_message","headers":null,"payload":null}`,
		}},
		// a day later than the expiry: expired.
		{"expired", []string{"--event", file(t, c2cEvent), "--at=2026-11-27T00:00:00Z"}, "", []string{
			`{"userId":"bob","token":"-","skip":"expired","headers":null,"payload":null}`,
			`{"userId":"erin","token":"-","skip":"expired","headers":null,"payload":null}`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, tt.stdin, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(tt.want, "\n") + "\n"; out != want {
				t.Errorf("output\n%s\nwant\n%s", out, want)
			}
		})
	}
}

// p1 is the "payload" member of an m1 push.
func p1(badge, sound string) string {
	return `"payload":{"aps":{"alert":{"body":"Ali (Hiking): see you at 8 <b>[image]"},"badge":` + badge +
		`,"sound":"` + sound + `","thread-id":"g-42"},"ext":"e&","conv":"group:g-42"}`
}

func TestRunErrors(t *testing.T) {
	ev := file(t, groupEvent)
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string // in the error
	}{
		// --event is required.
		{"no event", nil, "", "--event FILE is required"},
		// no positional arguments.
		{"extra argument", []string{"--event", ev, "x"}, "", `unexpected argument "x"`},
		// the event file does not exist.
		{"missing file", []string{"--event", filepath.Join(t.TempDir(), "none")}, "", "read event"},
		// an invalid event names the field.
		{"invalid event", []string{"--event", "-"}, `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"elems":[{"type":"text"}]}`,
			"event -: recipients: must not be empty"},
		// unknown settings fields are rejected.
		{"unknown field", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"devicez":[]}}}`)}, "", `unknown field "devicez"`},
		// a wrong type in the settings.
		{"wrong type", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"devices":[{"badge":"3"}]}}}`)}, "", "cannot unmarshal"},
		// trailing data after the settings object.
		{"trailing data", []string{"--event", ev, "--settings", file(t, `{} {}`)}, "", "data after the settings object"},
		// a device state other than background/foreground.
		{"bad state", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"devices":[{"token":"a","state":"asleep"}]}}}`)}, "",
			`users.bob.devices[0].state: "asleep", want background or foreground`},
		// a device without a token.
		{"no token", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"devices":[{"busiId":1}]}}}`)}, "",
			"users.bob.devices[0].token: required"},
		// an unknown receive option.
		{"bad receive opt", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"receiveOpts":{"all":"mute"}}}}`)}, "",
			`users.bob.receiveOpts["all"]: unknown option "mute"`},
		// openPush out of range.
		{"bad openPush", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"apnsConfig":{"openPush":3}}}}`)}, "",
			"users.bob.apnsConfig.openPush: 3, want 0, 1 or 2"},
		// a certificate without a bundle id.
		{"cert without bundle", []string{"--event", ev, "--settings", file(t, `{"certificates":[{"id":1}]}`)}, "",
			"certificates[0].bundleId: required"},
		// stdin can feed only one file.
		{"both stdin", []string{"--event", "-", "--settings", "-"}, "", "only one of --event and --settings"},
		// a malformed --at.
		{"bad at", []string{"--event", ev, "--at", "yesterday"}, "", "--at: want RFC 3339"},
		// a bad quiet-hours window names the member.
		{"bad window", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"receiveOpts":{"all":{"opt":"notNotify","startTime":"22:00","duration":60}}}}}`)}, "",
			`users.bob.receiveOpts["all"].startTime: want HH:MM:SS`},
		{"bad zone", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"receiveOpts":{"all":{"opt":"notNotify","startTime":"22:00:00","duration":60,"timeZone":"Mars/Base"}}}}}`)}, "",
			`users.bob.receiveOpts["all"].timeZone: unknown "Mars/Base"`},
		{"window on a conversation", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"receiveOpts":{"c2c:alice":{"opt":"notNotify","startTimestamp":1,"duration":60}}}}}`)}, "",
			`users.bob.receiveOpts["c2c:alice"]: a time window applies to "all" only`},
		{"unknown window member", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"receiveOpts":{"all":{"opt":"notNotify","start":"22:00:00"}}}}}`)}, "",
			`unknown field "start"`},
		{"bad preview", []string{"--event", ev, "--settings", file(t, `{"users":{"bob":{"apnsConfig":{"preview":"blur"}}}}`)}, "",
			`users.bob.apnsConfig.preview: "blur", want full, name or none`},
		// a --config that does not load.
		{"bad config", []string{"--event", ev, "--config", filepath.Join(t.TempDir(), "none.yaml")}, "", "--config: load config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("printed %q on error", out)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"-h"}, strings.NewReader(""), &out, &errOut)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("error %v, want flag.ErrHelp", err)
	}
	if u := errOut.String(); !strings.HasPrefix(u, "usage: offpush render --event FILE [--settings FILE]") || strings.Contains(u, "--now") {
		t.Errorf("usage:\n%s", u)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := Run(ctx, []string{"--event", file(t, groupEvent)}, strings.NewReader(""), &out, &out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
