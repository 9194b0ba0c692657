package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadWithoutFileIsDefault(t *testing.T) {
	cfg, err := Load("", []string{"PATH=/bin", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load(\"\", no OFFPUSH_ vars) =\n%v\nwant Default()", cfg)
	}
}

func TestLoadYAMLOverridesDefaults(t *testing.T) {
	path := writeFile(t, t.TempDir(), "c.yaml", `
kafka:
  topic: chat.events
  sessionTimeout: 45s
apns:
  certificates:
    - {id: 7, bundleId: a.b, environment: development, keyFile: k.p8, keyId: ABC123DEFG, teamId: DEF123GHIJ}
log: {format: text}
`)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Kafka.Topic = "chat.events"
	want.Kafka.SessionTimeout = 45 * time.Second
	want.APNs.Certificates = []Certificate{{ID: 7, BundleID: "a.b", Environment: Development,
		KeyFile: "k.p8", KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ"}}
	want.Log.Format = FormatText
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%v\nwant\n%v", cfg, want)
	}
}

func TestLoadEmptyFileIsDefault(t *testing.T) {
	path := writeFile(t, t.TempDir(), "c.yaml", "# nothing set\n")
	cfg, err := Load(path, nil)
	if err != nil || !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load(comment-only file) = %v, %v; want Default()", cfg, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(t.TempDir()+"/nope.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error = %v, want one naming the file", err)
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	tests := []struct {
		name, yaml, key, msg string
	}{
		// A misspelt section.
		{"top level", "kafak:\n  topic: x\n", "kafak", "unknown key (line 1)"},
		// A misspelt key inside a section.
		{"nested", "kafka:\n  topic: x\n  brokerz: [a:1]\n", "kafka.brokerz", "line 3"},
		// Two levels down.
		{"in tls", "redis:\n  tls:\n    enable: true\n", "redis.tls.enable", "line 3"},
		// Keys are case sensitive: bundleID is not bundleId. The error names the list element.
		{"in a certificate", "apns:\n  certificates:\n    - id: 1\n    - id: 2\n      bundleID: x\n", "apns.certificates[1].bundleID", "line 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, t.TempDir(), "c.yaml", tt.yaml), nil)
			wantKeyError(t, err, tt.key, tt.msg)
		})
	}
}

func TestLoadReportsTypeErrors(t *testing.T) {
	tests := []struct{ name, yaml, key, msg string }{
		// Not a number.
		{"int", "pipeline:\n  maxEvents: many\n", "pipeline.maxEvents", "line 2: cannot unmarshal"},
		// A bare number is not a duration: the unit is required.
		{"duration", "kafka:\n  sessionTimeout: 10\n", "kafka.sessionTimeout", "into time.Duration"},
		// A scalar where a list of strings belongs.
		{"string list", "kafka:\n  brokers: k1:9092\n", "kafka.brokers", "into []string"},
		// A scalar where a list of certificates belongs.
		{"list", "apns:\n  certificates: 2382\n", "apns.certificates", "want a list (line 2)"},
		// A scalar where a certificate belongs.
		{"list element", "apns:\n  certificates: [2382]\n", "apns.certificates[0]", "want a mapping"},
		// A scalar where a section belongs.
		{"section", "redis:\n  tls: true\n", "redis.tls", "want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "c.yaml", tt.yaml)
			_, err := Load(path, nil)
			wantKeyError(t, err, tt.key, tt.msg, path)
		})
	}
}

func TestLoadReportsSyntaxErrors(t *testing.T) {
	path := writeFile(t, t.TempDir(), "c.yaml", "kafka: [\n")
	_, err := Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("error = %v, want one naming %s and the line", err, path)
	}
}

// TestLoadNullKeepsDefaults: an empty section (YAML null) leaves its defaults alone.
func TestLoadNullKeepsDefaults(t *testing.T) {
	cfg, err := Load(writeFile(t, t.TempDir(), "c.yaml", "kafka:\npipeline: ~\n"), nil)
	if err != nil || !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load = %v, %v; want Default()", cfg, err)
	}
}

func TestLoadRejectsInlineSecrets(t *testing.T) {
	const secret = "hunter2-inline"
	tests := []struct {
		name, yaml, key string
		hints           []string // where the secret should come from instead
	}{
		{"redis password", "redis:\n  password: " + secret + "\n", "redis.password",
			[]string{"OFFPUSH_REDIS_PASSWORD", "redis.passwordFile"}},
		{"sasl password", "kafka:\n  sasl:\n    mechanism: PLAIN\n    password: " + secret + "\n", "kafka.sasl.password",
			[]string{"OFFPUSH_KAFKA_SASL_PASSWORD", "kafka.sasl.passwordFile"}},
		{"p12 password", "apns:\n  certificates:\n    - id: 2382\n      p12Password: " + secret + "\n", "apns.certificates[0].p12Password",
			[]string{"OFFPUSH_APNS_CERTIFICATES_2382_P12PASSWORD", "apns.certificates[0].p12PasswordFile"}},
		{"api tokens", "api:\n  tokens: [" + secret + "]\n", "api.tokens",
			[]string{"OFFPUSH_API_TOKENS", "api.tokensFile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, t.TempDir(), "c.yaml", tt.yaml), nil)
			wantKeyError(t, err, tt.key, append(tt.hints, "not accepted in the config file")...)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
}

func TestLoadReadsSecretFiles(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "c.yaml", `
redis: {passwordFile: `+writeFile(t, dir, "redis", "redis pass\n")+`}
kafka: {sasl: {mechanism: PLAIN, username: u, passwordFile: `+writeFile(t, dir, "sasl", "sasl-pass\r\n")+`}}
apns:
  certificates:
    - {id: 1, p12PasswordFile: `+writeFile(t, dir, "p12", "p12-pass")+`}
api: {tokensFile: `+writeFile(t, dir, "tokens", "# on-call\ntok-1\n\n  tok-2  \n")+`}
`)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Redis.Password, cfg.Kafka.SASL.Password, cfg.APNs.Certificates[0].P12Password}
	// Trailing newlines go; inner spaces stay.
	if want := []string{"redis pass", "sasl-pass", "p12-pass"}; !slices.Equal(got, want) {
		t.Errorf("passwords = %q, want %q", got, want)
	}
	// One token per line; blanks and # comments skipped.
	if want := []string{"tok-1", "tok-2"}; !slices.Equal(cfg.API.Tokens, want) {
		t.Errorf("tokens = %q, want %q", cfg.API.Tokens, want)
	}
}

func TestLoadSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "pw", "from-file")
	// The file key may itself come from the environment.
	_, err := Load("", []string{"OFFPUSH_REDIS_PASSWORDFILE=" + dir + "/missing"})
	wantKeyError(t, err, "redis.passwordFile", "no such file")

	// A secret set both ways is ambiguous.
	_, err = Load("", []string{"OFFPUSH_REDIS_PASSWORD=from-env", "OFFPUSH_REDIS_PASSWORDFILE=" + file})
	wantKeyError(t, err, "redis.passwordFile", "also set in the environment")
	if strings.Contains(err.Error(), "from-env") || strings.Contains(err.Error(), "from-file") {
		t.Errorf("error %q repeats a secret", err)
	}
}
