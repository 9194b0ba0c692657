package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// KeyError is a problem with one configuration key. Key is its path as written in YAML
// ("apns.certificates[1].bundleId"), or an environment variable's name.
type KeyError struct {
	Key string
	Err error
}

// Error returns "key: problem".
func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }

// Unwrap returns the underlying problem.
func (e *KeyError) Unwrap() error { return e.Err }

// keyErr returns a *KeyError for key with a formatted message.
func keyErr(key, format string, args ...any) *KeyError {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

// key is one configuration key of a struct: the field and its name in YAML. A secret has
// yaml:"-" and takes its name from its secret tag; its file key is name+"File".
type key struct {
	reflect.StructField
	name   string
	secret bool
}

var durationType = reflect.TypeFor[time.Duration]()

// keysOf lists the configuration keys of struct type t, in field order. Fields without a
// yaml name or secret tag are not keys.
func keysOf(t reflect.Type) []key {
	var keys []key
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		if name, ok := f.Tag.Lookup("secret"); ok {
			keys = append(keys, key{StructField: f, name: name, secret: true})
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, key{StructField: f, name: name})
		}
	}
	return keys
}

// lookupKey finds the key called name among keys.
func lookupKey(keys []key, name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// isSection reports whether t is a nested section (a struct) rather than a value.
func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct }

// isList reports whether t is a list of sections, such as apns.certificates.
func isList(t reflect.Type) bool { return t.Kind() == reflect.Slice && isSection(t.Elem()) }

// join appends name to the key path p.
func join(p, name string) string {
	if p == "" {
		return name
	}
	return p + "." + name
}

// index returns the key path of element i of list p.
func index(p string, i int) string { return fmt.Sprintf("%s[%d]", p, i) }

// envName returns the environment variable of key name below the variable prefix p.
func envName(p, name string) string { return p + "_" + strings.ToUpper(name) }

// fileKey returns the key naming the file a secret is read from.
func fileKey(secret key) string { return secret.name + "File" }
