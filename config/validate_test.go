package config

import (
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	base := valid(t)
	missing := t.TempDir() + "/missing.pem"
	tests := []struct {
		name   string
		change func(c *Config)
		key    string // the key the error names; "" = valid
		msg    string // part of the message
	}{
		// The base configuration: defaults plus one certificate of each kind and a token.
		{"valid", func(c *Config) {}, "", ""},
		// Several problems: the first in file order is named.
		{"first bad key wins", func(c *Config) { c.Log.Level = "loud"; c.Kafka.Topic = "" }, "kafka.topic", "required"},

		{"no brokers", func(c *Config) { c.Kafka.Brokers = nil }, "kafka.brokers", "at least one"},
		{"broker without port", func(c *Config) { c.Kafka.Brokers = []string{"k1:9092", "k2"} }, "kafka.brokers[1]", "not host:port"},
		{"broker port out of range", func(c *Config) { c.Kafka.Brokers = []string{"k1:99999"} }, "kafka.brokers[0]", "not host:port"},
		{"no topic", func(c *Config) { c.Kafka.Topic = "" }, "kafka.topic", "required"},
		{"illegal topic name", func(c *Config) { c.Kafka.Topic = "im messages" }, "kafka.topic", "not a Kafka topic"},
		{"dlq topic is the main topic", func(c *Config) { c.Kafka.DLQTopic = c.Kafka.Topic }, "kafka.dlqTopic", "must differ"},
		{"no group", func(c *Config) { c.Kafka.GroupID = "" }, "kafka.groupId", "required"},
		{"session timeout under the broker minimum", func(c *Config) { c.Kafka.SessionTimeout = 5 * time.Second }, "kafka.sessionTimeout", "must be at least 6s"},
		{"no commit interval", func(c *Config) { c.Kafka.CommitInterval = 0 }, "kafka.commitInterval", "must be > 0"},
		{"tls file while tls is off", func(c *Config) { c.Kafka.TLS.CAFile = base.APNs.Certificates[0].P12File }, "kafka.tls.caFile", "kafka.tls.enabled is false"},
		{"tls insecure while tls is off", func(c *Config) { c.Kafka.TLS.InsecureSkipVerify = true }, "kafka.tls.insecureSkipVerify", "enabled is false"},
		{"tls file missing", func(c *Config) { c.Kafka.TLS = TLS{Enabled: true, CAFile: missing} }, "kafka.tls.caFile", "cannot read"},
		{"tls cert without key", func(c *Config) {
			c.Kafka.TLS = TLS{Enabled: true, CertFile: base.APNs.Certificates[0].P12File}
		}, "kafka.tls.keyFile", "go together"},
		{"unknown sasl mechanism", func(c *Config) { c.Kafka.SASL.Mechanism = "GSSAPI" }, "kafka.sasl.mechanism", `"GSSAPI" is not one of`},
		{"sasl user without mechanism", func(c *Config) { c.Kafka.SASL.Username = "u" }, "kafka.sasl.mechanism", "required when"},
		{"sasl without user", func(c *Config) { c.Kafka.SASL = SASL{Mechanism: SASLScramSHA512, Password: "p"} }, "kafka.sasl.username", "required"},
		{"sasl without password", func(c *Config) { c.Kafka.SASL = SASL{Mechanism: SASLPlain, Username: "u"} }, "kafka.sasl.password", "OFFPUSH_KAFKA_SASL_PASSWORD"},

		{"no redis", func(c *Config) { c.Redis.Addrs = []string{} }, "redis.addrs", "at least one"},
		{"negative db", func(c *Config) { c.Redis.DB = -1 }, "redis.db", ">= 0"},
		{"redis password file is a directory", func(c *Config) { c.Redis.PasswordFile = t.TempDir() }, "redis.passwordFile", "is a directory"},
		{"redis tls checked like kafka's", func(c *Config) { c.Redis.TLS.KeyFile = missing }, "redis.tls.keyFile", "enabled is false"},

		{"apns host not https", func(c *Config) { c.APNs.Host = "http://127.0.0.1:2197" }, "apns.host", "https URL"},
		{"apns host with a path", func(c *Config) { c.APNs.Host = "https://sim:2197/3/device" }, "apns.host", "without a path"},
		{"apns ca missing", func(c *Config) { c.APNs.CAFile = missing }, "apns.caFile", "no such file"},
		{"unknown transport", func(c *Config) { c.APNs.Transport = "quic" }, "apns.transport", "must be h2 or net/http"},
		{"no connections", func(c *Config) { c.APNs.Connections = 0 }, "apns.connections", "must be > 0"},
		{"no in-flight", func(c *Config) { c.APNs.InFlight = -1 }, "apns.inFlight", "must be > 0"},
		{"no timeout", func(c *Config) { c.APNs.Timeout = 0 }, "apns.timeout", "must be > 0"},
		{"no attempts", func(c *Config) { c.APNs.MaxAttempts = 0 }, "apns.maxAttempts", "must be > 0"},
		{"no elapsed", func(c *Config) { c.APNs.MaxElapsed = 0 }, "apns.maxElapsed", "must be > 0"},
		{"no certificates", func(c *Config) { c.APNs.Certificates = nil }, "apns.certificates", "at least one"},
		{"duplicate id", func(c *Config) { c.APNs.Certificates[1].ID = 2382 }, "apns.certificates[1].id", "also the id of apns.certificates[0]"},
		{"zero id", func(c *Config) { c.APNs.Certificates[0].ID = 0 }, "apns.certificates[0].id", "must be > 0"},
		{"no bundle id", func(c *Config) { c.APNs.Certificates[1].BundleID = "" }, "apns.certificates[1].bundleId", "required"},
		{"bundle id with a space", func(c *Config) { c.APNs.Certificates[0].BundleID = "com.example im" }, "apns.certificates[0].bundleId", "spaces"},
		{"unknown environment", func(c *Config) { c.APNs.Certificates[0].Environment = "prod" }, "apns.certificates[0].environment", `"prod" is not one of "production", "development"`},
		{"p12 and p8 both", func(c *Config) { c.APNs.Certificates[1].P12File = c.APNs.Certificates[0].P12File }, "apns.certificates[1].keyFile", "only one of"},
		{"neither p12 nor p8", func(c *Config) { c.APNs.Certificates[0].P12File = "" }, "apns.certificates[0].p12File", "required"},
		{"p12 missing", func(c *Config) { c.APNs.Certificates[0].P12File = missing }, "apns.certificates[0].p12File", "cannot read"},
		{"p12 password file missing", func(c *Config) { c.APNs.Certificates[0].P12PasswordFile = missing }, "apns.certificates[0].p12PasswordFile", "cannot read"},
		{"key id on a p12 certificate", func(c *Config) { c.APNs.Certificates[0].KeyID = "ABC123DEFG" }, "apns.certificates[0].keyId", "only used with keyFile"},
		{"p8 missing", func(c *Config) { c.APNs.Certificates[1].KeyFile = missing }, "apns.certificates[1].keyFile", "cannot read"},
		{"voip on a p8 key", func(c *Config) { c.APNs.Certificates[1].VoIP = true }, "apns.certificates[1].voip", "a token-auth key sends VoIP pushes anyway"},
		{"p8 without key id", func(c *Config) { c.APNs.Certificates[1].KeyID = "" }, "apns.certificates[1].keyId", "10-character"},
		{"p8 key id malformed", func(c *Config) { c.APNs.Certificates[1].KeyID = "abc123defg" }, "apns.certificates[1].keyId", "10-character"},
		{"p8 without team id", func(c *Config) { c.APNs.Certificates[1].TeamID = "" }, "apns.certificates[1].teamId", "10-character"},
		{"p12 password on a p8 certificate", func(c *Config) { c.APNs.Certificates[1].P12Password = "x" }, "apns.certificates[1].p12Password", "only used with p12File"},

		{"no events in flight", func(c *Config) { c.Pipeline.MaxEvents = 0 }, "pipeline.maxEvents", "must be > 0"},
		{"no queue", func(c *Config) { c.Pipeline.QueueSize = 0 }, "pipeline.queueSize", "must be > 0"},
		{"no batch", func(c *Config) { c.Pipeline.BatchSize = 0 }, "pipeline.batchSize", "must be > 0"},
		{"no expiry", func(c *Config) { c.Pipeline.Expiry = 0 }, "pipeline.expiry", "must be > 0"},
		{"no shutdown grace", func(c *Config) { c.Pipeline.ShutdownGrace = -time.Second }, "pipeline.shutdownGrace", "must be > 0"},

		{"no prefix", func(c *Config) { c.Presence.Prefix = "" }, "presence.prefix", "required"},
		{"no foreground ttl", func(c *Config) { c.Presence.ForegroundTTL = 0 }, "presence.foregroundTtl", "must be > 0"},
		{"dedupe shorter than expiry", func(c *Config) { c.Presence.DedupeTTL = 12 * time.Hour }, "presence.dedupeTtl", "pipeline.expiry (24h0m0s)"},

		{"bad api addr", func(c *Config) { c.API.Addr = "8080" }, "api.addr", "not host:port"},
		{"no api token", func(c *Config) { c.API.Tokens = nil }, "api.tokens", "OFFPUSH_API_TOKENS"},
		{"api token with a space", func(c *Config) { c.API.Tokens = []string{"a", "b c"} }, "api.tokens[1]", "without spaces"},
		{"fewer max connections", func(c *Config) { c.APNs.MaxConnections = 1 }, "apns.maxConnections", "≥ apns.connections"},
		{"no body limit", func(c *Config) { c.API.MaxBodyBytes = 0 }, "api.maxBodyBytes", "must be > 0"},

		{"bad ops addr", func(c *Config) { c.Ops.Addr = "localhost" }, "ops.addr", "not host:port"},
		{"ops on the api port", func(c *Config) { c.Ops.Addr = c.API.Addr }, "ops.addr", "must differ from api.addr"},
		{"unknown level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `"verbose" is not one of`},
		{"unknown format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `"xml" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid(t)
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			wantKeyError(t, err, tt.key, tt.msg)
		})
	}
}

// TestDefaultNeedsCertificateAndToken documents that Default alone is not a runnable worker.
func TestDefaultNeedsCertificateAndToken(t *testing.T) {
	wantKeyError(t, Default().Validate(), "apns.certificates", "at least one certificate")
	cfg := valid(t)
	cfg.API.Tokens = nil
	wantKeyError(t, cfg.Validate(), "api.tokens", "at least one")
}
