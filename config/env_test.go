package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// certsYAML lists two certificates so that their variables exist.
const certsYAML = `
apns:
  certificates:
    - {id: 2382, bundleId: com.example.im, environment: production, p12File: a.p12}
    - {id: 2516, bundleId: com.example.im.enterprise, environment: production, keyFile: k.p8, keyId: ABC123DEFG, teamId: DEF123GHIJ}
`

func TestEnvOverrides(t *testing.T) {
	path := writeFile(t, t.TempDir(), "c.yaml", certsYAML+"pipeline: {maxEvents: 16}\n")
	tests := []struct {
		name  string
		env   []string
		check func(c Config) bool
	}{
		// A list is comma separated; blanks around items go.
		{"list", []string{"OFFPUSH_KAFKA_BROKERS=k1:9092, k2:9092,"},
			func(c Config) bool { return slices.Equal(c.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) }},
		{"duration", []string{"OFFPUSH_KAFKA_SESSIONTIMEOUT=30s"},
			func(c Config) bool { return c.Kafka.SessionTimeout == 30*time.Second }},
		{"bool two levels down", []string{"OFFPUSH_KAFKA_TLS_ENABLED=true"},
			func(c Config) bool { return c.Kafka.TLS.Enabled }},
		{"int", []string{"OFFPUSH_REDIS_DB=3"}, func(c Config) bool { return c.Redis.DB == 3 }},
		{"int64", []string{"OFFPUSH_API_MAXBODYBYTES=1024"}, func(c Config) bool { return c.API.MaxBodyBytes == 1024 }},
		{"string", []string{"OFFPUSH_APNS_HOST=https://127.0.0.1:2197"},
			func(c Config) bool { return c.APNs.Host == "https://127.0.0.1:2197" }},
		// The environment beats the file (maxEvents: 16).
		{"over the file", []string{"OFFPUSH_PIPELINE_MAXEVENTS=8"}, func(c Config) bool { return c.Pipeline.MaxEvents == 8 }},
		{"lowerCamel key", []string{"OFFPUSH_PRESENCE_FOREGROUNDTTL=1m"},
			func(c Config) bool { return c.Presence.ForegroundTTL == time.Minute }},
		{"secret", []string{"OFFPUSH_REDIS_PASSWORD=pw", "OFFPUSH_KAFKA_SASL_PASSWORD=pw2"},
			func(c Config) bool { return c.Redis.Password == "pw" && c.Kafka.SASL.Password == "pw2" }},
		{"secret list", []string{"OFFPUSH_API_TOKENS=t1,t2"},
			func(c Config) bool { return slices.Equal(c.API.Tokens, []string{"t1", "t2"}) }},
		// A certificate's keys are addressed by its id, not its position.
		{"certificate by id", []string{"OFFPUSH_APNS_CERTIFICATES_2516_KEYID=XYZ123ABCD", "OFFPUSH_APNS_CERTIFICATES_2382_P12PASSWORD=p"},
			func(c Config) bool {
				return c.APNs.Certificates[1].KeyID == "XYZ123ABCD" && c.APNs.Certificates[0].P12Password == "p" &&
					c.APNs.Certificates[0].KeyID == ""
			}},
		// As in a shell, the later of two entries wins.
		{"last wins", []string{"OFFPUSH_LOG_LEVEL=debug", "OFFPUSH_LOG_LEVEL=warn"},
			func(c Config) bool { return c.Log.Level == LevelWarn }},
		// Other variables, and OFFPUSH_CONFIG (the command line's), are not keys.
		{"not ours", []string{"PATH=/bin", "OFFPUSH_CONFIG=/etc/offpush.yaml", "OFFPUSHX=1", "malformed"},
			func(c Config) bool { return c.Pipeline.MaxEvents == 16 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("%v not applied:\n%v", tt.env, cfg)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	path := writeFile(t, t.TempDir(), "c.yaml", certsYAML)
	tests := []struct {
		name, env, msg string
	}{
		{"bad int", "OFFPUSH_PIPELINE_MAXEVENTS=many", `invalid integer "many" for pipeline.maxEvents`},
		{"int overflow", "OFFPUSH_REDIS_DB=99999999999999999999", "invalid integer"},
		// A duration needs its unit.
		{"bad duration", "OFFPUSH_KAFKA_SESSIONTIMEOUT=10", `invalid duration (such as 10s or 1m30s) "10"`},
		{"bad bool", "OFFPUSH_KAFKA_TLS_ENABLED=yes", "invalid boolean"},
		// A typo is an error, not silently ignored.
		{"unknown key", "OFFPUSH_PIPELINE_WORKERZ=8", "unknown variable"},
		{"unknown section", "OFFPUSH_KAFKA=x", "unknown variable"},
		{"unknown certificate", "OFFPUSH_APNS_CERTIFICATES_9999_KEYID=X", "OFFPUSH_APNS_CERTIFICATES_<id>_<KEY>"},
		// The id is what addresses the certificate; it cannot be changed.
		{"certificate id", "OFFPUSH_APNS_CERTIFICATES_2382_ID=1", "unknown variable"},
		// Lists of sections are not scalars.
		{"whole list", "OFFPUSH_APNS_CERTIFICATES=x", "unknown variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(path, []string{tt.env})
			name, _, _ := strings.Cut(tt.env, "=")
			wantKeyError(t, err, name, tt.msg)
		})
	}
}

// TestEveryKeyHasAVariable walks the Config type independently of bindings: each key below
// a section, and each key of a certificate by id, must have its variable, and the variable
// must accept a value of the key's type. A new key gets its variable without code.
func TestEveryKeyHasAVariable(t *testing.T) {
	cfg := Default()
	cfg.APNs.Certificates = []Certificate{{ID: 2382}}
	vars := bindings(&cfg)
	var want []string
	for _, p := range leafKeys(reflect.TypeFor[Config](), "") {
		if p == "apns.certificates[].id" {
			continue
		}
		name := strings.ReplaceAll(strings.ReplaceAll(p, "[]", "_2382"), ".", "_")
		want = append(want, EnvPrefix+"_"+strings.ToUpper(name))
	}
	for _, name := range want {
		b, ok := vars[name]
		if !ok {
			t.Errorf("no variable %s", name)
			continue
		}
		if err := b.set(sampleValue(b.value.Type())); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(vars) != len(want) {
		t.Errorf("%d variables, want %d", len(vars), len(want))
	}
}

// leafKeys lists the paths of the value keys of section type t, list elements as "[]".
func leafKeys(t reflect.Type, path string) []string {
	var out []string
	for _, k := range keysOf(t) {
		p := join(path, k.name)
		switch {
		case isSection(k.Type):
			out = append(out, leafKeys(k.Type, p)...)
		case isList(k.Type):
			out = append(out, leafKeys(k.Type.Elem(), p+"[]")...)
		default:
			out = append(out, p)
		}
	}
	return out
}

// sampleValue returns a valid environment value for a key of type t.
func sampleValue(t reflect.Type) string {
	switch {
	case t == durationType:
		return "1m"
	case t.Kind() == reflect.Bool:
		return "true"
	case t.Kind() == reflect.String, t.Kind() == reflect.Slice:
		return "x"
	default:
		return "1"
	}
}
