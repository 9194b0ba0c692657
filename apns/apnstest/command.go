package apnstest

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sideshow/apns2/token"
)

// DefaultCommandAddr is where `offpush apns-sim` listens by default.
const DefaultCommandAddr = "127.0.0.1:2197"

// Command runs `offpush apns-sim`: the simulator until ctx is cancelled. It prints the URL it
// listens on as its first stdout line ("apns-sim: listening on https://…") and, unless
// --quiet, every accepted notification as a JSON line on stdout and control actions and
// errors on stderr.
func Command(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apns-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", DefaultCommandAddr, "listen `address`")
	deliveries := fs.String("deliveries", "", "append every accepted notification to `FILE` as a JSON line")
	caOut := fs.String("ca-out", "", "write the simulator's TLS certificate (PEM) to `FILE` for clients to trust")
	teamID := fs.String("team-id", "", "token auth: required JWT iss (team id); empty accepts any")
	quiet := fs.Bool("quiet", false, "print only where it listens")
	keys := keysFlag{}
	fs.Var(keys, "key", "token auth: `KEYID=path.p8`, the key whose JWTs to accept (repeatable)")
	var topics topicsFlag
	fs.Var(&topics, "topic", "accept only this `topic` (repeatable; default any)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	opts := Options{Addr: *addr, Keys: keys, TeamID: *teamID, AllowedTopics: topics}
	if !*quiet {
		opts.Deliveries = stdout
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	if *deliveries != "" {
		f, err := os.OpenFile(*deliveries, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open --deliveries: %w", err)
		}
		defer f.Close()
		opts.Deliveries = joinWriters(opts.Deliveries, f)
	}
	return serve(ctx, opts, *caOut, stdout)
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
