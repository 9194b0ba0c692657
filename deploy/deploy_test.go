package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"offpush/config"
)

// root is the repository root, relative to this package's directory, where go test runs.
const root = ".."

// Files the tests read, relative to root.
const (
	composePath       = "docker-compose.yml"
	composeConfigPath = "deploy/compose/offpush.yaml"
	kubernetesDir     = "deploy/kubernetes"
	prometheusPath    = "deploy/prometheus/prometheus.yml"
	alertsPath        = "deploy/prometheus/alerts.yml"
	dashboardPath     = "deploy/grafana/dashboard.json"
)

// TestEveryFileParses decodes every YAML document and JSON file under deploy/ and the compose
// file, so a syntax error anywhere fails here, with its file and line, before a deploy does.
func TestEveryFileParses(t *testing.T) {
	files := []string{filepath.Join(root, composePath)}
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(path)) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if filepath.Ext(f) == ".json" {
			var v any
			if err := json.Unmarshal(readFile(t, f), &v); err != nil {
				t.Errorf("%s: %v", f, err)
			}
			continue
		}
		if len(yamlDocs(t, f)) == 0 {
			t.Errorf("%s: no YAML document", f)
		}
	}
	// A walk that found nothing would pass; these must have been seen.
	for _, want := range []string{composeConfigPath, alertsPath, dashboardPath, kubernetesDir + "/deployment.yaml"} {
		if !slices.Contains(files, filepath.Join(root, want)) {
			t.Errorf("%s was not parsed", want)
		}
	}
}

// TestOffpushVariablesInTextAreReal finds every OFFPUSH_ name written anywhere in the deploy
// files, comments and READMEs included, and checks it is a configuration variable of the
// compose or the Kubernetes configuration: a misspelt variable makes the worker refuse to start.
func TestOffpushVariablesInTextAreReal(t *testing.T) {
	configs := []string{filepath.Join(root, composeConfigPath), kubernetesConfigFile(t)}
	name := regexp.MustCompile(`OFFPUSH_[A-Z0-9_]*[A-Z0-9]`)
	for _, f := range deployTextFiles(t) {
		text := readFile(t, f)
		for _, loc := range name.FindAllIndex(text, -1) {
			if next := text[loc[1]:]; bytes.HasPrefix(next, []byte("_<")) || bytes.HasPrefix(next, []byte("<")) {
				continue // a pattern such as OFFPUSH_APNS_CERTIFICATES_<ID>_P12FILE
			}
			v := string(text[loc[0]:loc[1]])
			if v != config.EnvConfigFile && !slices.ContainsFunc(configs, func(c string) bool { return knownVariable(t, c, v) }) {
				t.Errorf("%s: %s is not a configuration variable of %v", f, v, configs)
			}
		}
	}
}

// TestUnknownVariableIsReported guards the checks above: they rely on config.Load rejecting
// an unknown OFFPUSH_ variable with "unknown variable".
func TestUnknownVariableIsReported(t *testing.T) {
	path := filepath.Join(root, composeConfigPath)
	if knownVariable(t, path, "OFFPUSH_NO_SUCH_KEY") {
		t.Fatal(`config.Load accepted OFFPUSH_NO_SUCH_KEY or no longer says "unknown variable": the variable checks of this package test nothing`)
	}
	if !knownVariable(t, path, "OFFPUSH_KAFKA_BROKERS") {
		t.Fatal("config.Load rejects OFFPUSH_KAFKA_BROKERS")
	}
}

// deployTextFiles lists the compose file and every non-Go file under deploy/.
func deployTextFiles(t *testing.T) []string {
	t.Helper()
	files := []string{filepath.Join(root, composePath)}
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) != ".go" && !strings.Contains(path, "/certs/") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// ---- offpush configuration ----------------------------------------------------------------

// loadConfig loads the offpush configuration file path as `offpush run` would, with the
// environment env (secrets included), and checks that it validates. It fails the test if
// either step fails.
func loadConfig(t *testing.T, path string, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(path, environ(env))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	validate(t, path, cfg)
	return cfg
}

// validate runs cfg.Validate with every file cfg names replaced by one that exists here
// (the real ones are in containers), so everything else is checked: key formats, durations,
// addresses, certificates.
func validate(t *testing.T, path string, cfg config.Config) {
	t.Helper()
	readable := filepath.Join(t.TempDir(), "readable")
	if err := os.WriteFile(readable, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.APNs.Certificates = slices.Clone(cfg.APNs.Certificates) // do not change the caller's
	for _, f := range configFiles(&cfg) {
		if *f != "" {
			*f = readable
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

// configFiles returns pointers to every file path key of cfg that Load does not read itself.
func configFiles(cfg *config.Config) []*string {
	files := []*string{&cfg.APNs.CAFile}
	for i := range cfg.APNs.Certificates {
		files = append(files, &cfg.APNs.Certificates[i].P12File, &cfg.APNs.Certificates[i].KeyFile)
	}
	for _, tls := range []*config.TLS{&cfg.Kafka.TLS, &cfg.Redis.TLS} {
		files = append(files, &tls.CAFile, &tls.CertFile, &tls.KeyFile)
	}
	return files
}

// usedFiles returns the file paths cfg names.
func usedFiles(cfg config.Config) []string {
	var paths []string
	for _, f := range configFiles(&cfg) {
		if *f != "" {
			paths = append(paths, *f)
		}
	}
	return paths
}

// checkVariables checks each OFFPUSH_ variable of env on its own against the configuration
// file path: Load must accept the name and its value.
func checkVariables(t *testing.T, path string, env map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !strings.HasPrefix(name, config.EnvPrefix+"_") {
			continue
		}
		if _, err := config.Load(path, environ(map[string]string{name: env[name]})); err != nil {
			t.Errorf("%s=%s with %s: %v", name, env[name], path, err)
		}
	}
}

// knownVariable reports whether config.Load with the file path knows the variable name. The
// value is a plausible one: a wrong type for the key is an error, but not "unknown variable".
func knownVariable(t *testing.T, path, name string) bool {
	t.Helper()
	_, err := config.Load(path, []string{name + "=1"})
	return err == nil || !strings.Contains(err.Error(), "unknown variable")
}

// environ turns env into "NAME=value" entries, as os.Environ returns them.
func environ(env map[string]string) []string {
	var list []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		list = append(list, k+"="+env[k])
	}
	return list
}

// port returns the port of a host:port address such as ":8080".
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: port %v", addr, err)
	}
	return n
}

// ---- files --------------------------------------------------------------------------------

// readFile returns the content of path, failing the test if it cannot be read.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// yamlDocs decodes every document of the YAML file path ("---" separated); empty documents,
// such as one made of comments only, are left out.
func yamlDocs(t *testing.T, path string) []*yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(doc.Content) > 0 && doc.Content[0].Tag != "!!null" {
			docs = append(docs, &doc)
		}
	}
}

// readYAML decodes the single-document YAML file path into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	docs := yamlDocs(t, path)
	if len(docs) != 1 {
		t.Fatalf("%s: %d YAML documents, want 1", path, len(docs))
	}
	if err := docs[0].Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
