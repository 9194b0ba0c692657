package replay

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"offpush/config"
	"offpush/dlq"
)

// Command is `offpush replay`. Kafka settings (brokers, topics, TLS, SASL) come from
// --config and OFFPUSH_KAFKA_… variables, --brokers/--dlq-topic/--topic override them. Progress
// and notes go to stderr. The summary line goes to stdout, except with --dry-run, whose stdout
// holds only the JSON lines of the records it would replay (the summary is then on stderr).
func Command(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	o.Output, o.Progress = stdout, stderr
	sum, err := Run(ctx, o)
	if !o.DryRun {
		fmt.Fprintln(stdout, sum)
	}
	return err
}

// cmdFlags are the flags of Command before they become Options.
type cmdFlags struct {
	config, brokers, dlqTopic, topic string
	since, until                     timeFlag
}

// parseFlags turns args into Options; a bad value is an error naming its flag.
func parseFlags(args []string, stderr io.Writer) (Options, error) {
	var o Options
	var f cmdFlags
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "YAML configuration file for the kafka section (OFFPUSH_KAFKA_… variables apply too)")
	fs.StringVar(&f.brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated (default kafka.brokers)")
	fs.StringVar(&f.dlqTopic, "dlq-topic", "", "dead-letter topic to read (default kafka.dlqTopic)")
	fs.StringVar(&f.topic, "topic", "", "events topic to re-publish to (default kafka.topic)")
	fs.StringVar(&o.GroupID, "group", DefaultGroupID, "consumer group of the replay: a run resumes where the last one of the group stopped")
	fs.Var((*listFlag)(&o.Reasons), "reason", "replay only this offpush-reason (repeatable or comma-separated; default every reason but invalid_event): "+strings.Join(reasonNames(), ", "))
	fs.Var(&f.since, "since", "replay only records that failed at or after this RFC 3339 time")
	fs.Var(&f.until, "until", "replay only records that failed before this RFC 3339 time")
	fs.Var((*listFlag)(&o.Users), "user", "replay only records for this recipient (repeatable or comma-separated)")
	fs.IntVar(&o.Max, "max", 0, "stop after replaying this many records (0 = no limit)")
	fs.DurationVar(&o.MaxAge, "max-age", 0, "skip records that failed longer ago than this (0 = no limit)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the records that would be replayed as JSON lines; publish and commit nothing")
	fs.DurationVar(&o.Idle, "idle", 30*time.Second, "stop when no record arrives for this long before the end offsets are reached")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q (replay takes flags only)", fs.Arg(0))
	}
	o.Since, o.Until = time.Time(f.since), time.Time(f.until)
	if err := checkFlags(o); err != nil {
		return Options{}, err
	}
	return o, f.kafka(&o)
}

// checkFlags checks what the flag package cannot.
func checkFlags(o Options) error {
	if o.Max < 0 {
		return fmt.Errorf("--max: %d is negative", o.Max)
	}
	if o.MaxAge < 0 {
		return fmt.Errorf("--max-age: %s is negative", o.MaxAge)
	}
	if o.Idle <= 0 {
		return fmt.Errorf("--idle: %s is not positive", o.Idle)
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Since.Before(o.Until) {
		return errors.New("--since must be before --until")
	}
	for _, r := range o.Reasons {
		if !slices.Contains(reasonNames(), r) {
			return fmt.Errorf("--reason: unknown reason %q (want one of %s)", r, strings.Join(reasonNames(), ", "))
		}
	}
	return nil
}

// kafka fills the Kafka settings of o from the configuration and the flags that override it.
func (f cmdFlags) kafka(o *Options) error {
	cfg, err := config.Load(f.config, os.Environ())
	if err != nil {
		return err
	}
	k := cfg.Kafka
	o.Brokers, o.DLQTopic, o.Topic = k.Brokers, k.DLQTopic, k.Topic
	if f.brokers != "" {
		o.Brokers = splitList(f.brokers)
	}
	if f.dlqTopic != "" {
		o.DLQTopic = f.dlqTopic
	}
	if f.topic != "" {
		o.Topic = f.topic
	}
	if len(o.Brokers) == 0 {
		return errors.New("--brokers: no Kafka brokers (set --brokers or kafka.brokers)")
	}
	if o.DLQTopic == o.Topic {
		return fmt.Errorf("--dlq-topic and --topic are both %q", o.Topic)
	}
	o.Dialer, err = k.Dialer()
	return err
}

// reasonNames are the offpush-reason values the pipeline writes.
func reasonNames() []string {
	var out []string
	for _, f := range dlq.Reasons() {
		out = append(out, f.String())
	}
	return out
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	items := splitList(v)
	if len(items) == 0 {
		return errors.New("empty value")
	}
	*l = append(*l, items...)
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// timeFlag is an RFC 3339 time.
type timeFlag time.Time

func (t *timeFlag) String() string {
	if t == nil || time.Time(*t).IsZero() {
		return ""
	}
	return time.Time(*t).Format(time.RFC3339)
}

func (t *timeFlag) Set(v string) error {
	p, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return errors.New("want an RFC 3339 time such as 2026-11-25T10:00:00Z")
	}
	*t = timeFlag(p)
	return nil
}
