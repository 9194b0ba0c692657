package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"offpush/config"
	"offpush/presence"
	"offpush/stateapi"
)

const explainUsage = `usage: offpush explain --user USER --msg MSG [--json] [--config FILE]

What offpush did with message MSG for each device of USER: sent, pending, dead_letter,
token_removed or none, with the time, badge, attempts and the apns-id to quote to Apple. It
reads the same Redis as offpush run (redis.* of --config and OFFPUSH_*) and answers as
GET /v1/users/{userId}/pushes/{msgId} does.

  --user USER     the recipient's user id
  --msg MSG       the message id of the event
  --json          print the API's JSON instead of a table
  --config FILE   offpush's configuration file
`

// Explain is `offpush explain`: a support view of one message's pushes to one user.
func Explain(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, explainUsage) }
	user := fs.String("user", "", "")
	msg := fs.String("msg", "", "")
	asJSON := fs.Bool("json", false, "")
	path := fs.String("config", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	case *user == "" || *msg == "":
		return errors.New("--user and --msg are required (see -h)")
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := presence.New(rdb, presenceOptions(cfg))
	rep, err := stateapi.Explain(ctx, store, *user, *msg)
	if err != nil {
		return fmt.Errorf("redis %v: %w", cfg.Redis.Addrs, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeReport(stdout, rep)
}

// writeReport prints rep as a table, one device per line.
func writeReport(w io.Writer, rep stateapi.PushReport) error {
	fmt.Fprintf(w, "user %s, message %s\n", rep.UserID, rep.MsgID)
	if len(rep.Devices) == 0 {
		_, err := fmt.Fprintln(w, "no devices, and no push of this message to a removed one")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tKIND\tSTATE\tAT\tBADGE\tATTEMPTS\tAPNS-ID")
	for _, d := range rep.Devices {
		at, badge, attempts := "-", "-", "-"
		if d.At != nil {
			at = d.At.Format(time.RFC3339)
		}
		if d.Badge != nil {
			badge = strconv.FormatInt(*d.Badge, 10)
		}
		if d.Attempts > 0 {
			attempts = strconv.Itoa(d.Attempts)
		}
		state := d.State
		if !d.Registered {
			state += " (unregistered)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Token, d.Kind, state, at, badge, attempts, d.APNsID)
	}
	return tw.Flush()
}
