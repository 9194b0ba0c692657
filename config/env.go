package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the name of every configuration environment variable.
const EnvPrefix = "OFFPUSH"

// EnvConfigFile is the one OFFPUSH_ variable that is not a key: the command line reads the
// config file's path from it. Load ignores it; any other unknown OFFPUSH_ variable is an error.
const EnvConfigFile = "OFFPUSH_CONFIG"

// binding is the value one environment variable sets.
type binding struct {
	key    string        // the key's YAML path, for messages
	secret bool          // never echo the value
	value  reflect.Value // settable
}

// bindings maps every environment variable of cfg to the value it sets. Certificates are
// addressed by id, so the variables depend on cfg's certificate list.
func bindings(cfg *Config) map[string]binding {
	m := map[string]binding{}
	bindSection(reflect.ValueOf(cfg).Elem(), "", EnvPrefix, m)
	return m
}

// bindSection adds the keys of section v, whose path is path and variable prefix env.
func bindSection(v reflect.Value, path, env string, m map[string]binding) {
	for _, k := range keysOf(v.Type()) {
		fv := v.FieldByIndex(k.Index)
		p, e := join(path, k.name), envName(env, k.name)
		switch {
		case isSection(k.Type):
			bindSection(fv, p, e, m)
		case isList(k.Type):
			bindList(fv, p, e, m)
		default:
			if _, dup := m[e]; !dup { // duplicate certificate ids: Validate reports them
				m[e] = binding{key: p, secret: k.secret, value: fv}
			}
		}
	}
}

// bindList adds the keys of each element of list by the element's id
// (OFFPUSH_APNS_CERTIFICATES_2382_KEYID). The id itself cannot be changed.
func bindList(list reflect.Value, path, env string, m map[string]binding) {
	for i := range list.Len() {
		elem := list.Index(i)
		id, ok := elemID(elem)
		if !ok {
			continue
		}
		e := env + "_" + id
		bindSection(elem, index(path, i), e, m)
		delete(m, envName(e, "id"))
	}
}

// elemID returns the value of the integer key "id" of section v.
func elemID(v reflect.Value) (string, bool) {
	k, ok := lookupKey(keysOf(v.Type()), "id")
	if !ok || !v.FieldByIndex(k.Index).CanInt() {
		return "", false
	}
	return strconv.FormatInt(v.FieldByIndex(k.Index).Int(), 10), true
}

// applyEnv sets the keys named by the OFFPUSH_ variables of environ ("NAME=value" entries, as
// os.Environ returns them; a later entry wins).
func applyEnv(cfg *Config, environ []string) error {
	vars := bindings(cfg)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix+"_") || name == EnvConfigFile {
			continue
		}
		b, ok := vars[name]
		if !ok {
			return keyErr(name, "unknown variable: no such configuration key "+
				"(a certificate's keys are OFFPUSH_APNS_CERTIFICATES_<id>_<KEY>, for an id listed in apns.certificates)")
		}
		if err := b.set(value); err != nil {
			return &KeyError{Key: name, Err: err}
		}
	}
	return nil
}

// set parses s into the bound value.
func (b binding) set(s string) error {
	v := b.value
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return b.invalid("duration (such as 10s or 1m30s)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		t, err := strconv.ParseBool(s)
		if err != nil {
			return b.invalid("boolean (true or false)", s)
		}
		v.SetBool(t)
	case v.CanInt():
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return b.invalid("integer", s)
		}
		v.SetInt(n)
	case v.Type() == reflect.TypeFor[[]string]():
		v.Set(reflect.ValueOf(splitList(s)))
	default:
		panic(fmt.Sprintf("config: %s: a %s cannot be set from the environment", b.key, v.Type()))
	}
	return nil
}

// invalid is the error for a value s that is not a what; a secret's value is not repeated.
func (b binding) invalid(what, s string) error {
	if b.secret {
		return errors.New("invalid " + what + " for " + b.key)
	}
	return fmt.Errorf("invalid %s %q for %s", what, s, b.key)
}

// splitList splits a comma-separated list, dropping blanks around and between items.
func splitList(s string) []string {
	list := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}
