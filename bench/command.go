package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"offpush/apns"
)

// Profiles of --profile.
const (
	profileDefault   = "default"    // the --foreground share of devices is in the foreground
	profileSkipHeavy = "skip-heavy" // every device is in the foreground: nothing is sent
	profileHotGroup  = "hot-group"  // one large group's burst while one-to-one messages flow
)

// Default --events: about 290k pushes for the default mix (a run well under 2 minutes on 2
// cores, baseline included), about 2.7M recipients for skip-heavy.
const (
	defaultEvents          = 3000
	defaultSkipHeavyEvents = 20000
)

// Defaults of --profile hot-group: the population leaves room for the group and its sender.
const (
	defaultHotMembers  = 20000
	defaultHotMessages = 20
	defaultHotUsers    = 25000
	defaultC2CRate     = 50
)

// config is the parsed command line of `offpush bench`.
type config struct {
	events, users, devices  int
	groupMin, groupMax      int
	groupShare, foreground  float64
	payloadBytes            int
	rate                    float64
	profile                 string
	jsonOut, cpuProfile     string
	memProfile              string
	connections, partitions int
	transport               string
	apnsRTT, apnsRTTJitter  time.Duration
	compareRTT              bool
	hotMembers, hotMessages int
	c2cRate                 float64
	baselinePushes          int
	baselineConcurrency     int
	brokers, redisAddr      string
	seed                    uint64
	repeat                  int
	timeout, stall          time.Duration
	verbose                 bool
	child                   string // internal: the childSpec of a child process
}

// Command runs `offpush bench` (see the package comment): it prints a summary table on stdout
// and, with --json FILE, writes the figures as one JSON object.
func Command(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.child != "" {
		return runChild(ctx, cfg.child, stdin, stdout, stderr)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	runs, err := repeatRuns(func() (*Result, error) { return run(ctx, cfg, stderr) }, cfg.repeat, logf)
	if err != nil {
		return err
	}
	if len(runs) == 1 {
		writeTable(stdout, runs[0])
		if cfg.jsonOut != "" {
			return writeJSON(cfg.jsonOut, runs[0])
		}
		return nil
	}
	med := medianResult(runs)
	writeTable(stdout, med)
	writeRuns(stdout, runs, med)
	if cfg.jsonOut != "" {
		return writeJSON(cfg.jsonOut, Repeated{Median: med, Runs: runs})
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.events, "events", 0, "message events to publish (0 = 3000, or 20000 with --profile skip-heavy: a window of several seconds)")
	fs.Float64Var(&c.groupShare, "group-share", 0.5, "share of group events (the rest are one-to-one)")
	fs.IntVar(&c.groupMin, "group-min", 50, "smallest group fan-out (recipients)")
	fs.IntVar(&c.groupMax, "group-max", 500, "largest group fan-out (recipients)")
	fs.IntVar(&c.users, "users", 20000, "user population")
	fs.IntVar(&c.devices, "devices-per-user", 1, "device tokens per user")
	fs.Float64Var(&c.foreground, "foreground", 0.3, "share of devices in the foreground (skipped)")
	fs.IntVar(&c.payloadBytes, "payload-bytes", 40, "message text size in bytes")
	fs.Float64Var(&c.rate, "rate", 0, "publish events at this rate (events/s) during the run, for latency; 0 = publish all first")
	fs.StringVar(&c.profile, "profile", profileDefault, "default | skip-heavy (every device in the foreground: Kafka + decode + Redis alone) | hot-group (one large group's burst while one-to-one messages flow) | big-groups (groups of 10k-20k members as membership, then as recipient lists)")
	fs.StringVar(&c.jsonOut, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the worker's window to `FILE`")
	fs.StringVar(&c.memProfile, "memprofile", "", "write the allocation profile at the window's end to `FILE`, and at its start to FILE.start (go tool pprof -sample_index=alloc_space -diff_base FILE.start FILE)")
	fs.IntVar(&c.connections, "connections", 0, "HTTP/2 connections per certificate (0 = apns default)")
	fs.StringVar(&c.transport, "transport", "", "HTTP/2 client of the worker: net/http or h2 (\"\" = apns default)")
	fs.IntVar(&c.partitions, "partitions", 4, "partitions of the events topic")
	fs.DurationVar(&c.apnsRTT, "apns-rtt", 0, "the simulator answers every push after this round trip (the baseline always runs at 0)")
	fs.DurationVar(&c.apnsRTTJitter, "apns-rtt-jitter", 0, "add a uniform random delay in [0, `DURATION`) to each answer")
	fs.BoolVar(&c.compareRTT, "compare-rtt", false, "with --apns-rtt: run the worker's window at 0 ms first too, and report the ratio")
	fs.IntVar(&c.hotMembers, "hot-group-members", defaultHotMembers, "hot-group: recipients of the large group")
	fs.IntVar(&c.hotMessages, "hot-group-messages", defaultHotMessages, "hot-group: messages of the large group, published in one burst as the window opens")
	fs.Float64Var(&c.c2cRate, "c2c-rate", defaultC2CRate, "hot-group: one-to-one events/s published alongside until the group's pushes are done")
	fs.IntVar(&c.baselinePushes, "baseline-pushes", 0, "pushes of the plain apns2 baseline loop (0 = as many as the worker sent, at least 20000)")
	fs.IntVar(&c.baselineConcurrency, "baseline-goroutines", 256, "goroutines of the baseline loop")
	fs.StringVar(&c.brokers, "brokers", "", "Kafka bootstrap `addresses` (comma-separated); default: kfake in a child process")
	fs.StringVar(&c.redisAddr, "redis", "", "Redis `ADDR` (host:port); default: a throwaway redis-server child")
	fs.Uint64Var(&c.seed, "seed", 1, "workload seed")
	fs.IntVar(&c.repeat, "repeat", 1, "run the whole bench this many times, each on a fresh environment, and report every figure's median and each run's main figures (the JSON then holds median and runs)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.DurationVar(&c.stall, "stall", 30*time.Second, "give up when no push finishes for this long")
	fs.BoolVar(&c.verbose, "v", false, "log the worker at info level")
	fs.StringVar(&c.child, "child", "", "internal: run as a child process of the bench")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.child != "" {
		return c, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := c.setProfileDefaults(set); err != nil {
		return nil, err
	}
	return c, c.validate()
}

// hotGroupFlags size the hot-group profile and mean nothing in the others.
var hotGroupFlags = []string{"hot-group-members", "hot-group-messages", "c2c-rate"}

// setProfileDefaults fills the defaults that depend on --profile and refuses the flags the
// profile has no use for; set holds the flags given.
func (c *config) setProfileDefaults(set map[string]bool) error {
	if c.profile == profileBigGroups {
		c.setBigGroupsDefaults(set)
	}
	if c.profile != profileHotGroup {
		for _, name := range hotGroupFlags {
			if set[name] {
				return fmt.Errorf("--%s: only with --profile %s", name, profileHotGroup)
			}
		}
		if c.events == 0 {
			c.events = defaultEvents
			if c.profile == profileSkipHeavy {
				c.events = defaultSkipHeavyEvents
			}
		}
		return nil
	}
	for _, name := range []string{"events", "rate", "group-share", "group-min", "group-max"} {
		if set[name] {
			return fmt.Errorf("--%s: not with --profile %s (sized by --%s)", name, profileHotGroup, strings.Join(hotGroupFlags, ", --"))
		}
	}
	if !set["users"] {
		c.users = max(defaultHotUsers, c.hotMembers+1)
	}
	c.events = 1 // validated now, counted once published
	return nil
}

// validate names the first flag with an impossible value.
func (c *config) validate() error {
	switch {
	case c.events < 1:
		return errors.New("--events: want at least 1")
	case c.users < 2:
		return errors.New("--users: want at least 2")
	case c.devices < 1:
		return errors.New("--devices-per-user: want at least 1")
	case c.groupMin < 1 || c.groupMax < c.groupMin:
		return errors.New("--group-min, --group-max: want 1 ≤ min ≤ max")
	case c.profile != profileHotGroup && c.groupMax >= c.users:
		return errors.New("--group-max: want fewer than --users")
	case c.profile == profileHotGroup && (c.hotMembers < 1 || c.hotMembers >= c.users):
		return fmt.Errorf("--hot-group-members: want 1 ≤ members < --users (%d)", c.users)
	case c.hotMessages < 1:
		return errors.New("--hot-group-messages: want at least 1")
	case c.c2cRate <= 0:
		return errors.New("--c2c-rate: want > 0")
	case c.groupShare < 0 || c.groupShare > 1:
		return errors.New("--group-share: want 0..1")
	case c.foreground < 0 || c.foreground > 1:
		return errors.New("--foreground: want 0..1")
	case c.payloadBytes < 1:
		return errors.New("--payload-bytes: want at least 1")
	case c.rate < 0:
		return errors.New("--rate: want ≥ 0")
	case c.profile != profileDefault && c.profile != profileSkipHeavy && c.profile != profileHotGroup && c.profile != profileBigGroups:
		return fmt.Errorf("--profile: want %s, %s, %s or %s", profileDefault, profileSkipHeavy, profileHotGroup, profileBigGroups)
	case c.baselinePushes < 0 || c.baselineConcurrency < 1:
		return errors.New("--baseline-pushes, --baseline-goroutines: want ≥ 0 and ≥ 1")
	case c.partitions < 1:
		return errors.New("--partitions: want at least 1")
	case c.transport != "" && c.transport != apns.TransportNetHTTP && c.transport != apns.TransportH2:
		return fmt.Errorf("--transport: want %s or %s", apns.TransportNetHTTP, apns.TransportH2)
	case c.repeat < 1:
		return errors.New("--repeat: want at least 1")
	case c.repeat > 1 && (c.cpuProfile != "" || c.memProfile != ""):
		return errors.New("--repeat: --cpuprofile and --memprofile profile one run; leave --repeat at 1")
	}
	return c.validateRTT()
}

func (c *config) validateRTT() error {
	switch {
	case c.apnsRTT < 0:
		return errors.New("--apns-rtt: want ≥ 0")
	case c.apnsRTTJitter < 0:
		return errors.New("--apns-rtt-jitter: want ≥ 0")
	case c.compareRTT && c.apnsRTT+c.apnsRTTJitter == 0:
		return errors.New("--compare-rtt: needs --apns-rtt or --apns-rtt-jitter > 0")
	}
	return nil
}

// workload is the event mix of the flags, with a fresh run id. With --profile hot-group its
// Events bound the one-to-one events the producer may publish before the timeout.
func (c *config) workload() *workload {
	var b [4]byte
	_, _ = rand.Read(b[:])
	w := &workload{
		Run: "b" + hex.EncodeToString(b[:]), Seed: c.seed, Events: c.events,
		Users: c.users, Devices: c.devices, Groups: max(1, c.users/20),
		GroupShare: c.groupShare, GroupMin: c.groupMin, GroupMax: c.groupMax,
		PayloadBytes: c.payloadBytes,
	}
	if c.profile == profileBigGroups {
		w.bigGroups()
	}
	if c.profile == profileHotGroup {
		w.GroupShare, w.HotMembers, w.HotMessages = 0, c.hotMembers, c.hotMessages
		w.Events = w.firstC2C() + int(math.Ceil(c.c2cRate*c.timeout.Seconds()))
	}
	return w
}

// paced reports whether events are published during the window (--rate, or hot-group) rather
// than all before it: event 0 alone then goes first, to open the window.
func (c *config) paced() bool { return c.rate > 0 || c.profile == profileHotGroup }

// foregroundShare is the share of devices seeded in the foreground.
func (c *config) foregroundShare() float64 {
	if c.profile == profileSkipHeavy {
		return 1
	}
	return c.foreground
}

// transportName is the worker's HTTP/2 client, as --transport or the apns default.
func (c *config) transportName() string {
	if c.transport == "" {
		return apns.DefaultTransport
	}
	return c.transport
}

// brokerList is --brokers split; nil means kfake.
func (c *config) brokerList() []string {
	if c.brokers == "" {
		return nil
	}
	return strings.Split(c.brokers, ",")
}

// writeJSON writes res to path, indented.
func writeJSON(path string, res any) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write --json: %w", err)
	}
	return nil
}
