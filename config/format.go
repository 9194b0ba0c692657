package config

import (
	"log/slog"
	"reflect"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// redacted stands for a secret that is set wherever a configuration is shown.
const redacted = "[redacted]"

// LogValue returns c as nested groups keyed like the YAML file, with every secret shown as
// "[redacted]" when set and "" when not, so that logging a Config never leaks one.
func (c Config) LogValue() slog.Value { return logValue(reflect.ValueOf(c)) }

// String returns c as YAML. Secrets are not part of the YAML form, so the result is a valid
// config file that never contains them.
func (c Config) String() string {
	out, err := yaml.Marshal(c)
	if err != nil {
		return "config: " + err.Error()
	}
	return string(out)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue returns c's keys with P12Password redacted.
func (c Certificate) LogValue() slog.Value { return logValue(reflect.ValueOf(c)) }

// String returns c's keys on one line, with P12Password redacted.
func (c Certificate) String() string { return c.LogValue().String() }

// GoString is String, so that %#v does not print the password either.
func (c Certificate) GoString() string { return c.String() }

// LogValue returns r's keys with Password redacted.
func (r Redis) LogValue() slog.Value { return logValue(reflect.ValueOf(r)) }

// String returns r's keys on one line, with Password redacted.
func (r Redis) String() string { return r.LogValue().String() }

// GoString is String, so that %#v does not print the password either.
func (r Redis) GoString() string { return r.String() }

// LogValue returns s's keys with Password redacted.
func (s SASL) LogValue() slog.Value { return logValue(reflect.ValueOf(s)) }

// String returns s's keys on one line, with Password redacted.
func (s SASL) String() string { return s.LogValue().String() }

// GoString is String, so that %#v does not print the password either.
func (s SASL) GoString() string { return s.String() }

// LogValue returns a's keys with Tokens redacted.
func (a API) LogValue() slog.Value { return logValue(reflect.ValueOf(a)) }

// String returns a's keys on one line, with Tokens redacted.
func (a API) String() string { return a.LogValue().String() }

// GoString is String, so that %#v does not print the tokens either.
func (a API) GoString() string { return a.String() }

// logValue returns v for logging: sections as groups keyed by YAML name, list elements keyed
// by index, durations as text and secrets redacted.
func logValue(v reflect.Value) slog.Value {
	switch t := v.Type(); {
	case t == durationType:
		return slog.StringValue(time.Duration(v.Int()).String())
	case isSection(t):
		var attrs []slog.Attr
		for _, k := range keysOf(t) {
			attrs = append(attrs, slog.Attr{Key: k.name, Value: fieldValue(v.FieldByIndex(k.Index), k.secret)})
		}
		return slog.GroupValue(attrs...)
	case isList(t):
		attrs := make([]slog.Attr, v.Len())
		for i := range attrs {
			attrs[i] = slog.Attr{Key: strconv.Itoa(i), Value: logValue(v.Index(i))}
		}
		return slog.GroupValue(attrs...)
	default:
		return slog.AnyValue(v.Interface())
	}
}

// fieldValue returns the log value of a field, redacted when it is a secret.
func fieldValue(v reflect.Value, secret bool) slog.Value {
	switch {
	case !secret:
		return logValue(v)
	case v.IsZero() || v.Len() == 0:
		return slog.StringValue("")
	default:
		return slog.StringValue(redacted)
	}
}
