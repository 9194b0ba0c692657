package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// withSecrets returns a valid configuration with every secret set to a recognisable value.
func withSecrets(t *testing.T) (Config, []string) {
	cfg := valid(t)
	secrets := []string{"redis-SECRET", "sasl-SECRET", "p12-SECRET", "token1-SECRET", "token2-SECRET"}
	cfg.Redis.Password = secrets[0]
	cfg.Kafka.SASL = SASL{Mechanism: SASLPlain, Username: "svc", Password: secrets[1]}
	cfg.APNs.Certificates[0].P12Password = secrets[2]
	cfg.API.Tokens = secrets[3:]
	return cfg, secrets
}

func TestFormattingRedactsSecrets(t *testing.T) {
	cfg, secrets := withSecrets(t)
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("start", "config", cfg)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("start", "config", cfg,
		"redis", cfg.Redis, "kafka", cfg.Kafka, "sasl", cfg.Kafka.SASL, "api", cfg.API, "cert", cfg.APNs.Certificates[0])
	jsonBytes, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"slog JSON": jsonLog.String(),
		"slog text": textLog.String(),
		"%v":        fmt.Sprintf("%v", cfg),
		"%+v":       fmt.Sprintf("%+v", cfg),
		"%#v":       fmt.Sprintf("%#v", cfg),
		"sections":  fmt.Sprintf("%v %+v %#v %v %#v %v", cfg.Redis, cfg.Kafka, cfg.Kafka.SASL, cfg.API, cfg.APNs.Certificates, cfg.APNs),
		"json":      string(jsonBytes),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q:\n%s", name, s, out)
			}
		}
		// Not vacuous: the output is the configuration.
		if !strings.Contains(out, "com.example.im.enterprise") {
			t.Errorf("%s output lacks the certificates:\n%s", name, out)
		}
	}
	// The logs say which secrets are set.
	if !strings.Contains(jsonLog.String(), `"password":"[redacted]"`) || !strings.Contains(textLog.String(), "config.api.tokens=[redacted]") {
		t.Errorf("redacted secrets not shown:\n%s\n%s", jsonLog.String(), textLog.String())
	}
}

func TestLogValueShape(t *testing.T) {
	cfg, _ := withSecrets(t)
	cfg.APNs.Certificates[1].P12Password = ""
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "config", cfg)
	var got struct {
		Config struct {
			Kafka struct{ SessionTimeout string }
			APNs  struct {
				Certificates map[string]struct {
					ID          int
					P12Password string
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	c := got.Config
	// Durations read as in the file; certificates keyed by position; unset secrets empty.
	if c.Kafka.SessionTimeout != "10s" || c.APNs.Certificates["1"].ID != 2516 ||
		c.APNs.Certificates["0"].P12Password != redacted || c.APNs.Certificates["1"].P12Password != "" {
		t.Errorf("log value = %s", buf.String())
	}
}

// TestStringIsAConfigFile: String is YAML that loads back to the same configuration, minus
// the secrets.
func TestStringIsAConfigFile(t *testing.T) {
	cfg, _ := withSecrets(t)
	back, err := Load(writeFile(t, t.TempDir(), "c.yaml", cfg.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Redis.Password, cfg.Kafka.SASL.Password, cfg.APNs.Certificates[0].P12Password, cfg.API.Tokens = "", "", "", nil
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip:\n%v\nwant\n%v", back, cfg)
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	slog.New(Log{Level: LevelWarn, Format: FormatText}.Handler(&buf)).Info("hidden")
	slog.New(Log{Level: LevelWarn, Format: FormatText}.Handler(&buf)).Warn("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=shown") {
		t.Errorf("text handler at warn wrote %q", out)
	}
	buf.Reset()
	slog.New(Log{Level: LevelDebug, Format: FormatJSON}.Handler(&buf)).Debug("d")
	if !strings.Contains(buf.String(), `"level":"DEBUG"`) {
		t.Errorf("json handler at debug wrote %q", buf.String())
	}
}
