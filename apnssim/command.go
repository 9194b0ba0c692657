package apnssim

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sideshow/apns2/token"
)

// DefaultCommandAddr is where `offpush apns-sim` listens by default.
const DefaultCommandAddr = "127.0.0.1:2197"

// Command runs `offpush apns-sim`: the simulator until ctx is cancelled. It prints the URL it
// listens on as its first stdout line ("apns-sim: listening on https://…") and, unless
// --quiet, every accepted notification as a JSON line on stdout and control actions and
// errors on stderr.
func Command(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	f, err := parseCommand(args, stderr)
	if err != nil {
		return err
	}
	opts := f.options(stdout, stderr)
	if f.deliveries != "" {
		file, err := os.OpenFile(f.deliveries, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open --deliveries: %w", err)
		}
		defer file.Close()
		opts.Deliveries = joinWriters(opts.Deliveries, file)
	}
	return serve(ctx, opts, f.caOut, stdout)
}

// commandFlags is the parsed command line of `offpush apns-sim`.
type commandFlags struct {
	addr, deliveries, caOut, teamID string
	quiet                           bool
	keys                            keysFlag
	topics                          topicsFlag
	latency, jitter                 time.Duration
}

func parseCommand(args []string, stderr io.Writer) (*commandFlags, error) {
	f := &commandFlags{keys: keysFlag{}}
	fs := flag.NewFlagSet("apns-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", DefaultCommandAddr, "listen `address`")
	fs.StringVar(&f.deliveries, "deliveries", "", "append every accepted notification to `FILE` as a JSON line")
	fs.StringVar(&f.caOut, "ca-out", "", "write the simulator's TLS certificate (PEM) to `FILE` for clients to trust")
	fs.StringVar(&f.teamID, "team-id", "", "token auth: required JWT iss (team id); empty accepts any")
	fs.BoolVar(&f.quiet, "quiet", false, "print only where it listens")
	fs.Var(f.keys, "key", "token auth: `KEYID=path.p8`, the key whose JWTs to accept (repeatable)")
	fs.Var(&f.topics, "topic", "accept only this `topic` (repeatable; default any)")
	fs.DurationVar(&f.latency, "latency", 0, "answer every provider request after this `DURATION` (POST /sim/latency changes it)")
	fs.DurationVar(&f.jitter, "latency-jitter", 0, "add a uniform random delay in [0, `DURATION`) to each answer")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case f.latency < 0:
		return nil, errors.New("--latency: want ≥ 0")
	case f.jitter < 0:
		return nil, errors.New("--latency-jitter: want ≥ 0")
	}
	return f, nil
}

// options are the Server options of the flags, without the --deliveries file.
func (f *commandFlags) options(stdout, stderr io.Writer) Options {
	opts := Options{Addr: f.addr, Keys: f.keys, TeamID: f.teamID, AllowedTopics: f.topics,
		Latency: f.latency, LatencyJitter: f.jitter}
	if !f.quiet {
		opts.Deliveries = stdout
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	return opts
}

func serve(ctx context.Context, opts Options, caOut string, stdout io.Writer) error {
	s, err := New(opts)
	if err != nil {
		return err
	}
	if caOut != "" {
		if err := os.WriteFile(caOut, s.CAPEM(), 0o644); err != nil {
			_ = s.Close()
			return fmt.Errorf("write --ca-out: %w", err)
		}
	}
	fmt.Fprintf(stdout, "apns-sim: listening on %s\n", s.URL()) // the listener is open already
	s.Start()
	<-ctx.Done()
	return s.Close()
}

func joinWriters(a, b io.Writer) io.Writer {
	if a == nil {
		return b
	}
	return io.MultiWriter(a, b)
}

// keysFlag collects --key KEYID=path.p8 as key id → public key.
type keysFlag map[string]*ecdsa.PublicKey

func (k keysFlag) String() string { return "" }

func (k keysFlag) Set(v string) error {
	kid, path, ok := strings.Cut(v, "=")
	if !ok || kid == "" || path == "" {
		return errors.New("want KEYID=path.p8")
	}
	key, err := token.AuthKeyFromFile(path)
	if err != nil {
		return fmt.Errorf("key %s: load %s: %w", kid, path, err)
	}
	k[kid] = &key.PublicKey
	return nil
}

// topicsFlag collects repeated --topic values.
type topicsFlag []string

func (t *topicsFlag) String() string { return strings.Join(*t, ",") }

func (t *topicsFlag) Set(v string) error {
	*t = append(*t, v)
	return nil
}
