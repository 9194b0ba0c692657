package config

import (
	"errors"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validate checks the whole configuration, in the order of the YAML file, and returns a
// *KeyError naming the first bad key. It checks that the files it names can be read but does
// not parse them (Certificate.LoadTLS and LoadAuthKey do).
func (c Config) Validate() error {
	var v checker
	c.Kafka.validate(&v, "kafka")
	c.Redis.validate(&v, "redis")
	c.APNs.validate(&v, "apns")
	c.Pipeline.validate(&v, "pipeline")
	c.Render.validate(&v, "render")
	c.Presence.validate(&v, "presence")
	v.check(c.Presence.DedupeTTL >= c.Pipeline.Expiry, "presence.dedupeTtl",
		"must be at least pipeline.expiry (%s): an event redelivered after its dedupe key expired would be pushed twice", c.Pipeline.Expiry)
	c.API.validate(&v, "api")
	v.hostPort("ops.addr", c.Ops.Addr)
	v.check(c.Ops.Addr != c.API.Addr || strings.HasSuffix(c.Ops.Addr, ":0"), "ops.addr", "must differ from api.addr")
	v.oneOf("log.level", c.Log.Level, LevelDebug, LevelInfo, LevelWarn, LevelError)
	v.oneOf("log.format", c.Log.Format, FormatJSON, FormatText)
	return v.err
}

// validate checks the kafka section, at key path p.
func (k Kafka) validate(v *checker, p string) {
	v.hostPorts(p+".brokers", k.Brokers)
	v.topic(p+".topic", k.Topic)
	v.topic(p+".dlqTopic", k.DLQTopic)
	v.check(k.DLQTopic != k.Topic, p+".dlqTopic", "must differ from %s.topic", p)
	v.required(p+".groupId", k.GroupID)
	v.check(k.SessionTimeout >= MinSessionTimeout, p+".sessionTimeout", "must be at least %s", MinSessionTimeout)
	positive(v, p+".commitInterval", k.CommitInterval)
	k.TLS.validate(v, p+".tls")
	k.SASL.validate(v, p+".sasl")
}

// validate checks SASL settings: all or nothing once a mechanism is chosen.
func (s SASL) validate(v *checker, p string) {
	v.oneOf(p+".mechanism", s.Mechanism, "", SASLPlain, SASLScramSHA256, SASLScramSHA512)
	if s.Mechanism == "" {
		v.check(s.Username == "" && s.Password == "", p+".mechanism", "required when a username or password is set")
		return
	}
	v.required(p+".username", s.Username)
	v.check(s.Password != "", p+".password", "required (set OFFPUSH_KAFKA_SASL_PASSWORD or %s.passwordFile)", p)
	v.readable(p+".passwordFile", s.PasswordFile)
}

// validate checks the redis section, at key path p.
func (r Redis) validate(v *checker, p string) {
	v.hostPorts(p+".addrs", r.Addrs)
	v.readable(p+".passwordFile", r.PasswordFile)
	v.check(r.DB >= 0, p+".db", "must be >= 0")
	r.TLS.validate(v, p+".tls")
}

// validate checks a tls section: its keys need enabled, its files must be readable.
func (t TLS) validate(v *checker, p string) {
	files := []struct{ key, path string }{{"caFile", t.CAFile}, {"certFile", t.CertFile}, {"keyFile", t.KeyFile}}
	for _, f := range files {
		v.check(t.Enabled || f.path == "", p+"."+f.key, "set but %s.enabled is false", p)
		v.readable(p+"."+f.key, f.path)
	}
	v.check(t.Enabled || !t.InsecureSkipVerify, p+".insecureSkipVerify", "set but %s.enabled is false", p)
	v.check((t.CertFile == "") == (t.KeyFile == ""), p+".keyFile", "certFile and keyFile go together")
}

// validate checks the apns section and each certificate, at key path p.
func (a APNs) validate(v *checker, p string) {
	if a.Host != "" {
		u, err := url.Parse(a.Host)
		v.check(err == nil && u.Scheme == "https" && u.Host != "" && strings.Trim(u.Path, "/") == "",
			p+".host", "must be an https URL without a path, such as https://127.0.0.1:2197")
	}
	v.readable(p+".caFile", a.CAFile)
	v.check(a.Transport == "h2" || a.Transport == "net/http", p+".transport", "must be h2 or net/http")
	positive(v, p+".connections", a.Connections)
	positive(v, p+".inFlight", a.InFlight)
	v.check(a.MaxConnections >= a.Connections, p+".maxConnections", "must be ≥ apns.connections")
	positive(v, p+".timeout", a.Timeout)
	positive(v, p+".maxAttempts", a.MaxAttempts)
	positive(v, p+".maxElapsed", a.MaxElapsed)
	v.check(len(a.Certificates) > 0, p+".certificates", "at least one certificate required")
	seen := map[int]int{}
	for i, c := range a.Certificates {
		cp := index(p+".certificates", i)
		if j, dup := seen[c.ID]; dup {
			v.fail(cp+".id", "%d is also the id of %s", c.ID, index(p+".certificates", j))
		}
		seen[c.ID] = i
		c.validate(v, cp)
	}
}

// appleID is the shape of Apple's key ids and team ids.
var appleID = regexp.MustCompile(`^[A-Z0-9]{10}$`)

// validate checks one certificate: exactly one auth method, with what that method needs.
func (c Certificate) validate(v *checker, p string) {
	v.check(c.ID > 0, p+".id", "must be > 0 (the busiId devices register with)")
	v.required(p+".bundleId", c.BundleID)
	v.check(!strings.ContainsFunc(c.BundleID, isSpaceOrSlash), p+".bundleId", "must not contain spaces or slashes")
	v.oneOf(p+".environment", c.Environment, Production, Development)
	switch {
	case c.P12File != "" && c.KeyFile != "":
		v.fail(p+".keyFile", "set only one of p12File (certificate auth) or keyFile (token auth)")
	case c.P12File != "":
		v.readable(p+".p12File", c.P12File)
		v.readable(p+".p12PasswordFile", c.P12PasswordFile)
		v.check(c.KeyID == "", p+".keyId", "only used with keyFile (token auth)")
		v.check(c.TeamID == "", p+".teamId", "only used with keyFile (token auth)")
	case c.KeyFile != "":
		v.readable(p+".keyFile", c.KeyFile)
		v.check(appleID.MatchString(c.KeyID), p+".keyId", "must be the key's 10-character id (A-Z, 0-9)")
		v.check(appleID.MatchString(c.TeamID), p+".teamId", "must be the 10-character team id (A-Z, 0-9)")
		v.check(c.P12PasswordFile == "", p+".p12PasswordFile", "only used with p12File (certificate auth)")
		v.check(c.P12Password == "", p+".p12Password", "only used with p12File (certificate auth)")
		v.check(!c.VoIP, p+".voip", "only used with p12File (a VoIP Services certificate): a token-auth key sends VoIP pushes anyway")
	default:
		v.fail(p+".p12File", "required: p12File (certificate auth) or keyFile, keyId and teamId (token auth)")
	}
}

// isSpaceOrSlash reports characters that cannot be in a bundle id or key prefix.
func isSpaceOrSlash(r rune) bool { return r == ' ' || r == '/' || r == '\t' || r == '\n' }

// validate checks the pipeline section, at key path k.
func (p Pipeline) validate(v *checker, k string) {
	positive(v, k+".maxEvents", p.MaxEvents)
	positive(v, k+".maxBytes", p.MaxBytes)
	positive(v, k+".largeEvent", p.LargeEvent)
	positive(v, k+".fanoutWindow", p.FanoutWindow)
	positive(v, k+".bulkBatches", p.BulkBatches)
	positive(v, k+".maxPushes", p.MaxPushes)
	positive(v, k+".maxRecipients", p.MaxRecipients)
	positive(v, k+".queueSize", p.QueueSize)
	positive(v, k+".batchSize", p.BatchSize)
	positive(v, k+".expiry", p.Expiry)
	positive(v, k+".shutdownGrace", p.ShutdownGrace)
}

// validate checks the render section, at key path k.
func (r Render) validate(v *checker, k string) {
	for _, f := range []struct{ key, val string }{{".previewName", r.PreviewName}, {".previewNone", r.PreviewNone}, {".recalled", r.Recalled}} {
		v.required(k+f.key, f.val)
		v.check(len(f.val) <= MaxTextLen && utf8.ValidString(f.val), k+f.key, "must be valid UTF-8 of at most %d bytes", MaxTextLen)
	}
}

// validate checks the presence section, at key path k.
func (p Presence) validate(v *checker, k string) {
	v.required(k+".prefix", p.Prefix)
	v.check(!strings.ContainsFunc(p.Prefix, isSpaceOrSlash), k+".prefix", "must not contain spaces or slashes")
	positive(v, k+".foregroundTtl", p.ForegroundTTL)
	positive(v, k+".dedupeTtl", p.DedupeTTL)
}

// validate checks the api section, at key path p.
func (a API) validate(v *checker, p string) {
	v.hostPort(p+".addr", a.Addr)
	v.readable(p+".tokensFile", a.TokensFile)
	v.check(len(a.Tokens) > 0, p+".tokens", "at least one bearer token required (set OFFPUSH_API_TOKENS or %s.tokensFile)", p)
	for i, t := range a.Tokens {
		v.check(t != "" && !strings.ContainsAny(t, " \t\r\n"), index(p+".tokens", i), "must be non-empty without spaces")
	}
	positive(v, p+".maxBodyBytes", a.MaxBodyBytes)
}

// checker keeps the first failed check of a Validate run.
type checker struct{ err error }

// fail records a problem with key unless one was recorded already.
func (v *checker) fail(key, format string, args ...any) {
	if v.err == nil {
		v.err = keyErr(key, format, args...)
	}
}

// check fails key when ok is false.
func (v *checker) check(ok bool, key, format string, args ...any) {
	if !ok {
		v.fail(key, format, args...)
	}
}

// required checks that s is set.
func (v *checker) required(key, s string) { v.check(s != "", key, "required") }

// positive checks that a count or a duration is above zero.
func positive[T ~int | ~int64](v *checker, key string, n T) { v.check(n > 0, key, "must be > 0") }

// oneOf checks that s is one of allowed.
func (v *checker) oneOf(key, s string, allowed ...string) {
	if !slices.Contains(allowed, s) {
		v.fail(key, "%q is not one of %s", s, strings.Join(quoteAll(allowed), ", "))
	}
}

// kafkaTopic is the shape of a legal Kafka topic name.
var kafkaTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// topic checks s is a legal Kafka topic name.
func (v *checker) topic(key, s string) {
	v.required(key, s)
	v.check(s == "" || kafkaTopic.MatchString(s), key, "%q is not a Kafka topic name (letters, digits, '.', '_', '-')", s)
}

// hostPort checks s is host:port (host may be empty for a listen address).
func (v *checker) hostPort(key, s string) {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	v.check(err == nil, key, "%q is not host:port", s)
}

// hostPorts checks a non-empty list of host:port addresses.
func (v *checker) hostPorts(key string, list []string) {
	v.check(len(list) > 0, key, "at least one host:port required")
	for i, s := range list {
		v.hostPort(index(key, i), s)
	}
}

// readable checks that the file at path, when one is named, can be opened for reading.
func (v *checker) readable(key, path string) {
	if path == "" || v.err != nil {
		return
	}
	f, err := os.Open(path)
	if err == nil {
		var info os.FileInfo
		info, err = f.Stat()
		if err == nil && info.IsDir() {
			err = errors.New("is a directory")
		}
		f.Close()
	}
	if err != nil {
		v.fail(key, "%s: cannot read: %v", path, unwrapPath(err))
	}
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// quoteAll quotes each string of list.
func quoteAll(list []string) []string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return q
}
