// Package config is offpush's configuration: one YAML file, every key overridable from the
// environment, secrets only from the environment or from files.
//
// Load builds a Config in three layers, each overriding the one before:
//
//  1. Default(), the only place defaults are written down;
//  2. the YAML file, decoded strictly: an unknown key is an error naming its path;
//  3. environment variables: OFFPUSH_ followed by the key path upper-cased, with _ between
//     levels (kafka.sessionTimeout → OFFPUSH_KAFKA_SESSIONTIMEOUT). Lists are comma
//     separated, durations are Go durations ("10s"). A certificate's keys are addressed by
//     its id: OFFPUSH_APNS_CERTIFICATES_2382_P12FILE.
//
// Secrets (redis.password, kafka.sasl.password, apns.certificates[].p12Password, api.tokens)
// are never read from the YAML file: they come from their environment variable
// (OFFPUSH_REDIS_PASSWORD, …) or from the file named by the matching …File key
// (redis.passwordFile, …). Formatting or logging a Config never shows them.
//
// Load does not validate: the worker calls Validate, which names the first bad key.
package config

import (
	"offpush/apns"
	"offpush/dlq"
	"offpush/event"
	"offpush/pipeline"
	"offpush/presence"
	"offpush/render"
	"offpush/stateapi"
	"time"
)

// Config is the whole offpush configuration. Each section belongs to the package it drives.
type Config struct {
	Kafka    Kafka    `yaml:"kafka"`
	Redis    Redis    `yaml:"redis"`
	APNs     APNs     `yaml:"apns"`
	Pipeline Pipeline `yaml:"pipeline"`
	Render   Render   `yaml:"render"`
	Presence Presence `yaml:"presence"`
	API      API      `yaml:"api"`
	Ops      Ops      `yaml:"ops"`
	Log      Log      `yaml:"log"`
}

// Kafka is where events are read from and dead letters written to.
type Kafka struct {
	Brokers        []string      `yaml:"brokers"`        // seed brokers, host:port
	Topic          string        `yaml:"topic"`          // message events
	DLQTopic       string        `yaml:"dlqTopic"`       // dead letters
	GroupID        string        `yaml:"groupId"`        // consumer group of offpush run
	SessionTimeout time.Duration `yaml:"sessionTimeout"` // at least MinSessionTimeout
	CommitInterval time.Duration `yaml:"commitInterval"` // how often finished offsets are committed
	TLS            TLS           `yaml:"tls"`
	SASL           SASL          `yaml:"sasl"`
}

// MinSessionTimeout is the smallest kafka.sessionTimeout: brokers reject shorter ones with
// their default group.min.session.timeout.ms (6000).
const MinSessionTimeout = 6 * time.Second

// SASL mechanisms accepted in kafka.sasl.mechanism ("" = no SASL).
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASL is Kafka authentication.
type SASL struct {
	Mechanism    string `yaml:"mechanism"` // "", SASLPlain, SASLScramSHA256 or SASLScramSHA512
	Username     string `yaml:"username"`
	Password     string `yaml:"-" json:"-" secret:"password"` // secret: env or passwordFile
	PasswordFile string `yaml:"passwordFile"`
}

// Redis holds settings, devices, presence, badges and dedupe keys.
type Redis struct {
	Addrs        []string `yaml:"addrs"` // one address, or several for a cluster
	Username     string   `yaml:"username"`
	Password     string   `yaml:"-" json:"-" secret:"password"` // secret: env or passwordFile
	PasswordFile string   `yaml:"passwordFile"`
	DB           int      `yaml:"db"`
	TLS          TLS      `yaml:"tls"`
}

// TLS is a client TLS setup for Kafka or Redis; see TLS.Config.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"caFile"`   // PEM roots replacing the system's; "" = system roots
	CertFile           string `yaml:"certFile"` // PEM client certificate (mutual TLS), with keyFile
	KeyFile            string `yaml:"keyFile"`  // PEM client key
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
}

// APNs is how pushes reach Apple.
type APNs struct {
	// Host replaces Apple's host for every certificate (an APNs simulator, a proxy), as an
	// https URL. "" = Apple's host of the certificate's environment (api.push.apple.com, or
	// api.sandbox.push.apple.com for development).
	Host        string `yaml:"host"`
	CAFile      string `yaml:"caFile"`      // extra PEM root CA trusted for Host
	Transport   string `yaml:"transport"`   // HTTP/2 client: "h2" (offpush's lean one) or "net/http"
	Connections int    `yaml:"connections"` // HTTP/2 connections per certificate at start
	// MaxConnections: a certificate whose requests wait on connections that allow fewer
	// streams than inFlight grows up to this many connections (h2 transport).
	MaxConnections int           `yaml:"maxConnections"`
	InFlight       int           `yaml:"inFlight"`    // concurrent requests per certificate
	Timeout        time.Duration `yaml:"timeout"`     // one request
	MaxAttempts    int           `yaml:"maxAttempts"` // sends of one notification, retries included
	MaxElapsed     time.Duration `yaml:"maxElapsed"`  // time from first send to giving up
	Certificates   []Certificate `yaml:"certificates"`
}

// Certificate environments: which APNs host serves its device tokens.
const (
	Production  = "production"
	Development = "development"
)

// Certificate is one app's APNs credential, keyed by ID, the busiId devices register with.
// It uses certificate auth (P12File) or token auth (KeyFile, KeyID, TeamID), not both.
type Certificate struct {
	ID              int    `yaml:"id"`                              // busiId
	BundleID        string `yaml:"bundleId"`                        // the apns-topic
	Environment     string `yaml:"environment"`                     // Production or Development
	P12File         string `yaml:"p12File"`                         // certificate auth: PKCS#12 (.p12)
	P12Password     string `yaml:"-" json:"-" secret:"p12Password"` // secret: env or p12PasswordFile
	P12PasswordFile string `yaml:"p12PasswordFile"`
	KeyFile         string `yaml:"keyFile"` // token auth: .p8 key (PKCS#8 PEM, EC P-256)
	KeyID           string `yaml:"keyId"`   // token auth: the key's 10-character id
	TeamID          string `yaml:"teamId"`  // token auth: the 10-character team id
	// VoIP marks a VoIP Services certificate (certificate auth): it sends PushKit call
	// pushes, to bundleId.voip, and no ordinary ones. A token-auth key sends both kinds.
	VoIP bool `yaml:"voip"`
}

// Production reports whether the certificate's device tokens belong to production APNs.
func (c Certificate) Production() bool { return c.Environment == Production }

// TokenAuth reports whether the certificate uses token auth (.p8 key) rather than a .p12.
func (c Certificate) TokenAuth() bool { return c.KeyFile != "" }

// Pipeline sizes the path from Kafka to APNs.
type Pipeline struct {
	QueueSize     int           `yaml:"queueSize"`     // records buffered ahead of the fetch loop
	MaxEvents     int           `yaml:"maxEvents"`     // events in progress (admitted, unfinished), over all conversations
	MaxBytes      int64         `yaml:"maxBytes"`      // their value bytes
	LargeEvent    int           `yaml:"largeEvent"`    // recipients above which an event's pushes go to the bulk lane
	FanoutWindow  int           `yaml:"fanoutWindow"`  // batches of one event in flight at once
	BulkBatches   int           `yaml:"bulkBatches"`   // batches of large events in flight, over all events
	MaxPushes     int           `yaml:"maxPushes"`     // pushes in progress (waiting, in flight, between retries), over all events
	MaxRecipients int           `yaml:"maxRecipients"` // recipients of small events in progress
	BatchSize     int           `yaml:"batchSize"`     // recipients per Redis round trip
	Expiry        time.Duration `yaml:"expiry"`        // apns-expiration, and older events are not pushed
	ShutdownGrace time.Duration `yaml:"shutdownGrace"` // time to finish in-flight work on stop
}

// Render is the fixed texts of the notifications, for apps that localise on the server, or
// Apple's localization keys instead, for apps that localise on the device.
type Render struct {
	PreviewName string `yaml:"previewName"` // the content under apns-config preview "name"
	PreviewNone string `yaml:"previewNone"` // the whole body under preview "none"
	Recalled    string `yaml:"recalled"`    // after the sender in a recall's replacement: "Alice recalled a message"
	LocKeys     bool   `yaml:"locKeys"`     // send loc-key/loc-args instead of the fixed texts
}

// MaxTextLen bounds render.previewName and render.previewNone, in bytes.
const MaxTextLen = 256

// Presence is how device state is kept in Redis.
type Presence struct {
	Prefix        string        `yaml:"prefix"`        // Redis key prefix
	ForegroundTTL time.Duration `yaml:"foregroundTtl"` // a foreground report lasts this long
	DedupeTTL     time.Duration `yaml:"dedupeTtl"`     // message × device dedupe keys; ≥ pipeline.expiry
}

// API is the state API.
type API struct {
	Addr         string   `yaml:"addr"`
	Tokens       []string `yaml:"-" json:"-" secret:"tokens"` // secret: bearer tokens, env or tokensFile
	TokensFile   string   `yaml:"tokensFile"`                 // one token per line
	MaxBodyBytes int64    `yaml:"maxBodyBytes"`               // larger request bodies get 413
}

// Ops serves /metrics, /healthz and /readyz.
type Ops struct {
	Addr string `yaml:"addr"`
}

// Log levels and formats accepted in the log section.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
	FormatJSON = "json"
	FormatText = "text"
)

// Log is the process logger.
type Log struct {
	Level  string `yaml:"level"`  // LevelDebug, LevelInfo, LevelWarn or LevelError
	Format string `yaml:"format"` // FormatJSON or FormatText
}

// Default returns the configuration every Load starts from. It has no certificates and no API
// token, so it does not pass Validate on its own.
func Default() Config {
	return Config{
		Kafka: Kafka{
			Brokers:        []string{"127.0.0.1:9092"},
			Topic:          event.DefaultTopic,
			DLQTopic:       dlq.DefaultTopic,
			GroupID:        pipeline.DefaultGroupID,
			SessionTimeout: pipeline.DefaultSessionTimeout,
			CommitInterval: pipeline.DefaultCommitInterval,
		},
		Redis: Redis{Addrs: []string{"127.0.0.1:6379"}},
		APNs: APNs{
			Transport:      apns.DefaultTransport,
			Connections:    apns.DefaultConnections,
			MaxConnections: apns.DefaultMaxConnections,
			InFlight:       apns.DefaultInFlight,
			Timeout:        apns.DefaultTimeout,
			MaxAttempts:    pipeline.DefaultMaxAttempts,
			MaxElapsed:     pipeline.DefaultMaxElapsed,
		},
		Pipeline: Pipeline{
			QueueSize:     pipeline.DefaultQueueSize,
			MaxEvents:     pipeline.DefaultMaxEvents,
			MaxBytes:      pipeline.DefaultMaxBytes,
			LargeEvent:    pipeline.DefaultLargeEvent,
			FanoutWindow:  pipeline.DefaultFanoutWindow,
			BulkBatches:   pipeline.DefaultBulkBatches,
			MaxPushes:     pipeline.DefaultMaxPushes,
			MaxRecipients: pipeline.DefaultMaxRecipients,
			BatchSize:     pipeline.DefaultBatchSize,
			Expiry:        render.DefaultExpiry,
			ShutdownGrace: pipeline.DefaultShutdownGrace,
		},
		Render:   Render{PreviewName: render.DefaultPreviewName, PreviewNone: render.DefaultPreviewNone, Recalled: render.DefaultRecalled},
		Presence: Presence{Prefix: presence.DefaultPrefix, ForegroundTTL: presence.DefaultForegroundTTL, DedupeTTL: presence.DefaultDedupeTTL},
		API:      API{Addr: ":8080", MaxBodyBytes: stateapi.DefaultMaxBodyBytes},
		Ops:      Ops{Addr: ":9090"},
		Log:      Log{Level: LevelInfo, Format: FormatJSON},
	}
}
