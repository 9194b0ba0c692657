// Package rendercmd is the `offpush render` verb: it shows the APNs requests an
// event would cause for given settings, without sending, using the pipeline's own render
// functions (render.Prepare and Prepared.Render).
//
// It prints one JSON line per recipient device, recipients in event order and devices in
// settings order:
//
//	{"userId":…,"token":…,"skip":null|"<reason>","headers":{…}|null,"payload":{…}|null}
//
// Header values are the HTTP header strings ("apns-priority":"10", "apns-expiration" in Unix
// seconds, "0" for none); payload is the exact APNs payload. A skipped device causes no
// request, so its headers and payload are null. A recipient without devices prints one line
// with "token":null and its skip reason: the user's (self_message, muted, …) if any, else
// "no_device", the order render.Prepared.Render uses. A device that would be pushed but whose busiId is
// not a known certificate prints "error":"unknown_certificate" (the pipeline's dead-letter
// reason; it is not a skip) with null headers and payload; "error" is present only then.
//
// Without --settings every recipient has default settings and one background device, token
// "-", busiId 2382, badge 0. Certificates default to those of `offpush dev` (2382 and 2383 →
// com.example.im, 2516 → com.example.im.enterprise with token auth, 2390 → a VoIP Services
// certificate of com.example.im) when the settings give none. A device may carry "kind":
// "voip" (a setVOIP token); a certificate "kinds" (["apns"] by default, ["voip"] for a VoIP
// Services certificate, both for a token-auth key). A device of the other kind than the message
// (VoIP tokens for ordinary messages, ordinary tokens for calls) prints skip "other_kind"; a
// push its certificate cannot send prints "error":"unknown_certificate", as the worker
// dead-letters it.
//
// A recall (kind revoke) prints, for each ordinary device, the replacement the worker sends
// where the original was sent, with the badge one below the device's (the settings file
// cannot say what was sent; the worker reads it from the dedupe records). A group event
// without recipients is refused: its recipients are the group's membership in Redis. A user
// missing from a settings file has no devices, as in Redis; a device without a "state" is in
// the background. A receive option in the settings file is the option string or the state
// API's body object with a quiet-hours window ({"opt":"notNotify","startTime":"22:00:00",
// "duration":28800,"timeZone":"Asia/Shanghai"}); apnsConfig may carry "preview".
//
// Quiet hours and expiry are judged at --at (RFC 3339; default: the clock), the time of the
// push the preview shows. Expiry is render.DefaultExpiry and the fixed texts are render's
// defaults unless --config names offpush's configuration file, whose pipeline.expiry and
// render section (previewName, previewNone, locKeys) then apply, as in the worker.
package rendercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"offpush/config"
	"offpush/event"
	"offpush/render"
)

// unknownCertificate is the "error" of a device whose busiId has no certificate.
const unknownCertificate = "unknown_certificate"

const usage = `usage: offpush render --event FILE [--settings FILE] [--at TIME] [--config FILE]

Prints, as one JSON line per recipient device, the APNs request the event would cause
(headers and exact payload) or why there is none ("skip"). Nothing is sent.

  --event FILE      the message event, JSON as published to im.messages; "-" reads stdin
  --settings FILE   users' apnsConfig, receiveOpts and devices, and certificates, as Redis
                    would hold them; without it each recipient has one background
                    device "-" with badge 0 and default settings
  --at TIME         judge quiet hours and expiry as if the push happened at TIME
                    (RFC 3339, e.g. 2026-12-02T23:30:00+08:00); default: now
  --config FILE     offpush's configuration file: its pipeline.expiry and render section
                    (preview texts, locKeys) apply, as in the worker
`

// flags are the command line of the verb.
type flags struct {
	event, settings string
	now             time.Time
	opts            render.Options
}

// Run is `offpush render`: flags in args, the event from a file or stdin, lines to stdout.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fl, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	data, err := readInput(fl.event, stdin)
	if err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	m, err := event.Decode(data)
	if err != nil {
		return fmt.Errorf("event %s: %w", fl.event, err)
	}
	sf, err := loadSettings(fl.settings, stdin)
	if err != nil {
		return err
	}
	return write(ctx, stdout, m, sf, fl.opts, fl.now)
}

// parseFlags parses args; -h prints the usage and returns flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var fl flags
	var at, cfgFile string
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&fl.event, "event", "", "")
	fs.StringVar(&fl.settings, "settings", "", "")
	fs.StringVar(&at, "at", "", "")
	fs.StringVar(&cfgFile, "config", "", "")
	if err := fs.Parse(args); err != nil {
		return fl, err
	}
	switch {
	case fs.NArg() > 0:
		return fl, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	case fl.event == "":
		return fl, errors.New("--event FILE is required (see -h)")
	case fl.event == "-" && fl.settings == "-":
		return fl, errors.New("only one of --event and --settings can read stdin")
	}
	fl.now = time.Now()
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return fl, fmt.Errorf("--at: want RFC 3339 (2026-12-02T23:30:00+08:00): %w", err)
		}
		fl.now = t
	}
	fl.opts = render.Options{Expiry: render.DefaultExpiry}
	if cfgFile != "" {
		cfg, err := config.Load(cfgFile, os.Environ())
		if err != nil {
			return fl, fmt.Errorf("--config: %w", err)
		}
		fl.opts = render.Options{Expiry: cfg.Pipeline.Expiry, PreviewName: cfg.Render.PreviewName,
			PreviewNone: cfg.Render.PreviewNone, Recalled: cfg.Render.Recalled, LocKeys: cfg.Render.LocKeys}
	}
	return fl, nil
}

// readInput reads the file name, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// loadSettings reads and checks the settings file; no name means no settings (nil).
func loadSettings(name string, stdin io.Reader) (*settingsFile, error) {
	if name == "" {
		return nil, nil
	}
	data, err := readInput(name, stdin)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	sf, err := parseSettings(data)
	if err != nil {
		return nil, fmt.Errorf("settings %s: %w", name, err)
	}
	return sf, nil
}
