package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"unicode/utf8"
)

// fieldNames are the JSON names of every field of the event, at any depth.
var fieldNames = collectNames(reflect.TypeFor[Message](), map[string]bool{})

func collectNames(t reflect.Type, names map[string]bool) map[string]bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return names
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
		collectNames(f.Type, names)
	}
	return names
}

// checkKeys refuses an object key that is not a field name of the event but differs from one
// only in case (or by a Unicode look-alike such as the Kelvin sign): encoding/json would
// take it for that field ("ID" read as id, "\u212aind" as kind) rather than ignore it as an
// unknown field. It runs before the decoder and makes one pass over the bytes and allocates only for
// a key written with escapes.
// lowerFieldNames maps each field name, in ASCII lower case, to the name.
var lowerFieldNames = func() map[string]string {
	m := make(map[string]string, len(fieldNames))
	for name := range fieldNames {
		lower, _ := asciiLower(nil, []byte(name))
		m[string(lower)] = name
	}
	return m
}()

// asciiLower appends key in lower case to dst, and reports whether key is ASCII.
func asciiLower(dst, key []byte) ([]byte, bool) {
	for _, c := range key {
		if c >= 0x80 {
			return dst, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

func checkKeys(data []byte) error {
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		start, escaped := i+1, false
		for i++; i < len(data) && data[i] != '"'; i++ {
			if data[i] == '\\' {
				escaped = true
				i++
			}
		}
		end := i
		j := i + 1
		for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
			j++
		}
		if j >= len(data) || data[j] != ':' {
			continue // a string value, not a key
		}
		key := data[start:end]
		if escaped {
			var s string
			if json.Unmarshal(data[start-1:end+1], &s) != nil {
				continue
			}
			key = []byte(s)
		}
		if err := checkKey(key); err != nil {
			return err
		}
	}
	return nil
}

func checkKey(key []byte) error {
	if fieldNames[string(key)] || len(key) > 64 {
		return nil // a field, or an unknown key too long to be one
	}
	var buf [64]byte
	if lower, ascii := asciiLower(buf[:0], key); ascii {
		// An ASCII key folds to an (ASCII) field name only by ASCII case.
		if name, ok := lowerFieldNames[string(lower)]; ok {
			return fieldErr(string(key), "unknown field that differs from %s only in case: field names are case-sensitive", name)
		}
		return nil
	}
	if !utf8.Valid(key) {
		return nil
	}
	k := string(key)
	for name := range fieldNames {
		if strings.EqualFold(k, name) {
			return fieldErr(k, "unknown field that differs from %s only in case: field names are case-sensitive", name)
		}
	}
	return nil
}
