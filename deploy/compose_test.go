package deploy

import (
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"offpush/config"
)

// compose is the part of docker-compose.yml the tests read (the compose specification).
type compose struct {
	Version  *string            `yaml:"version"`
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image           string                `yaml:"image"`
	Build           any                   `yaml:"build"`
	Command         words                 `yaml:"command"`
	Entrypoint      words                 `yaml:"entrypoint"`
	Environment     env                   `yaml:"environment"`
	Ports           []string              `yaml:"ports"`   // short syntax: "host:container"
	Volumes         []string              `yaml:"volumes"` // short syntax: "source:target[:ro]"
	DependsOn       dependsOn             `yaml:"depends_on"`
	Healthcheck     *struct{ Test words } `yaml:"healthcheck"`
	StopGracePeriod string                `yaml:"stop_grace_period"`
}

// words is a command: a list, or a string split on spaces.
type words []string

func (w *words) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = strings.Fields(n.Value)
		return nil
	}
	return n.Decode((*[]string)(w))
}

// env is an environment: a mapping, or a list of NAME=value.
type env map[string]string

func (e *env) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*e = env{}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	return n.Decode((*map[string]string)(e))
}

// dependsOn maps each dependency to its condition: a list means service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, s := range list {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct{ Condition string }
	if err := n.Decode(&m); err != nil {
		return err
	}
	for s, c := range m {
		(*d)[s] = c.Condition
	}
	return nil
}

func readCompose(t *testing.T) compose {
	t.Helper()
	var c compose
	readYAML(t, filepath.Join(root, composePath), &c)
	return c
}

// service returns the service name, failing the test if there is none.
func (c compose) service(t *testing.T, name string) service {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("%s: no service %q", composePath, name)
	}
	return s
}

// composeConfig loads deploy/compose/offpush.yaml with the offpush service's environment.
func composeConfig(t *testing.T, c compose) config.Config {
	t.Helper()
	return loadConfig(t, filepath.Join(root, composeConfigPath), c.service(t, "offpush").Environment)
}

// TestComposeServices checks the stack is complete: each part of the system and what
// watches it, in the current compose format.
func TestComposeServices(t *testing.T) {
	c := readCompose(t)
	if c.Version != nil {
		t.Errorf("%s: the version key is obsolete in the compose specification", composePath)
	}
	for _, name := range []string{"kafka", "kafka-init", "redis", "apns-sim", "offpush", "prometheus"} {
		c.service(t, name)
	}
	if tracingService(c) == "" {
		t.Errorf("%s: no tracing service (a jaegertracing or opentelemetry-collector image)", composePath)
	}
	for _, name := range []string{"offpush", "apns-sim"} {
		if s := c.service(t, name); s.Build == nil {
			t.Errorf("service %s: want build: . (the offpush image)", name)
		}
	}
}

// tracingService returns the name of the service that receives traces, "" if there is none.
func tracingService(c compose) string {
	for name, s := range c.Services {
		if strings.Contains(s.Image, "jaegertracing/") || strings.Contains(s.Image, "opentelemetry-collector") {
			return name
		}
	}
	return ""
}

// TestComposeStartOrder checks the worker starts after its topics exist and Redis answers,
// and the topics are created once Kafka is healthy.
func TestComposeStartOrder(t *testing.T) {
	c := readCompose(t)
	want := map[string]map[string]string{
		// The worker refuses to start without its topics: wait for the init job to succeed.
		"offpush":    {"kafka-init": "service_completed_successfully", "redis": "service_healthy", "apns-sim": ""},
		"kafka-init": {"kafka": "service_healthy"},
	}
	for name, deps := range want {
		got := c.service(t, name).DependsOn
		for dep, cond := range deps {
			if gotCond, ok := got[dep]; !ok || cond != "" && gotCond != cond {
				t.Errorf("service %s: depends_on %s: condition %q, want %q", name, dep, gotCond, cond)
			}
			if cond == "service_healthy" && c.service(t, dep).Healthcheck == nil {
				t.Errorf("service %s: no healthcheck, but %s waits for it to be healthy", dep, name)
			}
		}
	}
}

// TestComposeOffpush checks the worker's service against its configuration: the config file
// mounted where --config reads it, variables, secrets, ports, files and stop timeout.
func TestComposeOffpush(t *testing.T) {
	c := readCompose(t)
	s := c.service(t, "offpush")
	cfg := composeConfig(t, c)
	checkVariables(t, filepath.Join(root, composeConfigPath), s.Environment)

	args := s.Command
	if len(args) != 3 || args[0] != "run" || args[1] != "--config" {
		t.Fatalf("service offpush: command %q, want run --config FILE", args)
	}
	if src, rel, ok := mountSource(s, args[2]); !ok || path.Join(src, rel) != composeConfigPath {
		t.Errorf("service offpush: --config %s is not mounted from ./%s", args[2], composeConfigPath)
	}
	for _, f := range usedFiles(cfg) {
		if _, _, ok := mountSource(s, f); !ok {
			t.Errorf("service offpush: %s (named in %s) is on no volume", f, composeConfigPath)
		}
	}
	published := publishedPorts(t, s)
	for _, p := range []int{port(t, cfg.API.Addr), port(t, cfg.Ops.Addr)} {
		if !slices.Contains(published, p) {
			t.Errorf("service offpush: container port %d (api.addr or ops.addr) not published; ports %q", p, s.Ports)
		}
	}
	stop, err := time.ParseDuration(s.StopGracePeriod)
	if err != nil || stop <= cfg.Pipeline.ShutdownGrace {
		t.Errorf("service offpush: stop_grace_period %q, want more than pipeline.shutdownGrace %s", s.StopGracePeriod, cfg.Pipeline.ShutdownGrace)
	}
	if u, err := url.Parse(s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]); err != nil || u.Hostname() != tracingService(c) {
		t.Errorf("service offpush: OTEL_EXPORTER_OTLP_ENDPOINT %q does not name the tracing service %q", s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"], tracingService(c))
	}
	for _, v := range s.Volumes {
		if src := strings.Split(v, ":")[0]; strings.HasPrefix(src, ".") && !exists(filepath.Join(root, src)) {
			t.Errorf("service offpush: volume source %s does not exist", src)
		}
	}
}

// TestComposeDependencies checks the worker's Kafka and Redis addresses name the compose
// services, that Kafka advertises the address the worker dials, and that kafka-init creates
// both topics.
func TestComposeDependencies(t *testing.T) {
	c := readCompose(t)
	cfg := composeConfig(t, c)
	for _, addr := range append(slices.Clone(cfg.Kafka.Brokers), cfg.Redis.Addrs...) {
		host := strings.Split(addr, ":")[0]
		if _, ok := c.Services[host]; !ok {
			t.Errorf("%s: %s is no compose service", composeConfigPath, addr)
		}
	}
	advertised := c.service(t, "kafka").Environment["KAFKA_ADVERTISED_LISTENERS"]
	for _, b := range cfg.Kafka.Brokers {
		if !strings.Contains(advertised, "//"+b) {
			t.Errorf("service kafka: KAFKA_ADVERTISED_LISTENERS %q does not advertise %s, the worker's broker", advertised, b)
		}
	}
	partitions := composeTopics(t, c)
	for _, topic := range []string{cfg.Kafka.Topic, cfg.Kafka.DLQTopic} {
		if partitions[topic] < 1 {
			t.Errorf("service kafka-init: does not create topic %s (creates %v)", topic, partitions)
		}
	}
}

// composeTopics returns the topics kafka-init creates and their partition counts, read from
// its kafka-topics.sh --create lines.
func composeTopics(t *testing.T, c compose) map[string]int {
	t.Helper()
	s := c.service(t, "kafka-init")
	script := strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
	create := regexp.MustCompile(`kafka-topics\.sh[^\n]*--create[^\n]*`)
	topic := regexp.MustCompile(`--topic[ =](\S+)`)
	parts := regexp.MustCompile(`--partitions[ =](\d+)`)
	// The script calls kafka-topics.sh through a variable ($$topics): resolve it first.
	script = strings.ReplaceAll(script, "$$topics", "kafka-topics.sh")
	got := map[string]int{}
	for _, line := range create.FindAllString(script, -1) {
		tm, pm := topic.FindStringSubmatch(line), parts.FindStringSubmatch(line)
		if tm == nil || pm == nil {
			t.Errorf("service kafka-init: %q: want --topic and --partitions", line)
			continue
		}
		got[tm[1]], _ = strconv.Atoi(pm[1])
	}
	return got
}

// TestComposeAPNsSim checks the simulator is where apns.host points, its CA certificate is
// the file apns.caFile reads, and it accepts the token-auth keys the worker signs with.
func TestComposeAPNsSim(t *testing.T) {
	c := readCompose(t)
	cfg := composeConfig(t, c)
	sim, worker := c.service(t, "apns-sim"), c.service(t, "offpush")
	if len(sim.Command) == 0 || sim.Command[0] != "apns-sim" {
		t.Fatalf("service apns-sim: command %q, want apns-sim …", sim.Command)
	}
	flags := flagValues(sim.Command[1:])
	host, err := url.Parse(cfg.APNs.Host)
	if err != nil || host.Hostname() != "apns-sim" {
		t.Errorf("%s: apns.host %q is not the apns-sim service", composeConfigPath, cfg.APNs.Host)
	}
	if a := last(flags["addr"]); a == "" || port(t, a) != port(t, host.Host) {
		t.Errorf("service apns-sim: --addr %q, want the port of apns.host %s", a, cfg.APNs.Host)
	}
	if !sameFile(sim, last(flags["ca-out"]), worker, cfg.APNs.CAFile) {
		t.Errorf("apns-sim --ca-out %q and offpush's apns.caFile %q are not the same file on a shared volume", last(flags["ca-out"]), cfg.APNs.CAFile)
	}
	for _, key := range flags["key"] {
		kid, file, _ := strings.Cut(key, "=")
		i := slices.IndexFunc(cfg.APNs.Certificates, func(c config.Certificate) bool { return c.KeyID == kid })
		if i < 0 {
			t.Errorf("apns-sim --key %s: no certificate with keyId %s", key, kid)
			continue
		}
		cert := cfg.APNs.Certificates[i]
		if !sameFile(sim, file, worker, cert.KeyFile) {
			t.Errorf("apns-sim --key %s is not the keyFile %s of certificate %d", key, cert.KeyFile, cert.ID)
		}
		if tid := last(flags["team-id"]); tid != "" && tid != cert.TeamID {
			t.Errorf("apns-sim --team-id %s, certificate %d has teamId %s", tid, cert.ID, cert.TeamID)
		}
	}
	if !slices.ContainsFunc(cfg.APNs.Certificates, config.Certificate.TokenAuth) || len(flags["key"]) == 0 {
		t.Errorf("want a token-auth certificate and apns-sim --key for it, so token auth is exercised")
	}
}

// flagValues returns the values of --name=value and --name value arguments, by name.
func flagValues(args []string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(strings.TrimPrefix(args[i], "-"), "-")
		if !ok {
			continue
		}
		if n, v, ok := strings.Cut(name, "="); ok {
			m[n] = append(m[n], v)
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			m[name] = append(m[name], args[i+1])
			i++
		}
	}
	return m
}

func last(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[len(list)-1]
}

// mountSource finds the volume of s that holds the container path p: its source (a named
// volume or a ./host path) and p relative to the mount point.
func mountSource(s service, p string) (source, rel string, ok bool) {
	best := -1
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue
		}
		target := parts[1]
		if (p == target || strings.HasPrefix(p, strings.TrimSuffix(target, "/")+"/")) && len(target) > best {
			best, source, rel = len(target), parts[0], strings.TrimPrefix(strings.TrimPrefix(p, target), "/")
		}
	}
	return source, rel, best >= 0
}

// sameFile reports whether path a in service sa and path b in service sb are the same file:
// the same volume source and the same path below it.
func sameFile(sa service, a string, sb service, b string) bool {
	srcA, relA, okA := mountSource(sa, a)
	srcB, relB, okB := mountSource(sb, b)
	return okA && okB && path.Join(srcA, relA) == path.Join(srcB, relB)
}

// publishedPorts returns the container ports of s published on the host.
func publishedPorts(t *testing.T, s service) []int {
	t.Helper()
	var ports []int
	for _, p := range s.Ports {
		parts := strings.Split(strings.Split(p, "/")[0], ":")
		n, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil || len(parts) < 2 {
			t.Errorf("port %q: want host:container", p)
			continue
		}
		ports = append(ports, n)
	}
	return ports
}
