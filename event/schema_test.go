package event

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schema.json is the event contract as a JSON Schema (draft 2020-12) for IM core's producers;
// testdata/schema holds the cases it shares with Decode, one event per file (.json, or
// .json.gz for the few of hundreds of kilobytes). A case's name
// says what both must answer:
//
//	valid-…                 Decode accepts it and the schema accepts it
//	invalid-…               Decode refuses it and the schema refuses it
//	decode-only-invalid-…   Decode refuses it and the schema accepts it, because the rule
//	                        broken is one a JSON Schema cannot express (decodeOnly says which)
//
// A file that is not JSON at all counts as refused by the schema: every validator refuses
// to validate it.
const (
	schemaFile = "schema.json"
	casesDir   = "testdata/schema"
)

// decodeOnly explains every decode-only-invalid case: the rule of Decode that schema.json
// cannot express (listed in its top-level $comment too). Keep it small.
var decodeOnly = map[string]string{
	"decode-only-invalid-utf8":                        "the bytes must be valid UTF-8; a validator sees decoded text, where the bad byte is already U+FFFD",
	"decode-only-invalid-revoke-recalls-itself":       "revokes must differ from id; a schema cannot compare two fields",
	"decode-only-invalid-id-256-chars-over-256-bytes": "ids are limited to 256 UTF-8 bytes; maxLength counts characters",
	"decode-only-invalid-sdkappid-exponent":           "sdkAppId must be a plain integer literal; a schema sees the number 1000, not how 1e3 is written",
	"decode-only-invalid-unknown-field-differs-in-case": `a key that differs from a field's name only in case ("ID") is refused: ` +
		"the JSON decoder would take it for that field; a schema's property names are case-sensitive and cannot say so",
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Draft 2020-12 leaves format to annotation; the contract needs date-time and uri checked.
	c.AssertFormat()
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return sch
}

// schemaAccepts validates one document; a document that is not JSON is refused.
func schemaAccepts(sch *jsonschema.Schema, data []byte) (bool, string) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return false, "not JSON: " + err.Error()
	}
	if err := sch.Validate(doc); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func TestSchemaCases(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob(filepath.Join(casesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := filepath.Glob(filepath.Join(casesDir, "*.json.gz")) // the large cases, compressed
	files = append(files, gz...)
	counts := map[string]int{}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".gz"), ".json")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			data, err := readCase(f)
			if err != nil {
				t.Fatal(err)
			}
			_, derr := Decode(data)
			sok, serr := schemaAccepts(sch, data)
			var wantDecode, wantSchema bool
			switch {
			case strings.HasPrefix(name, "valid-"):
				counts["valid"]++
				wantDecode, wantSchema = true, true
			case strings.HasPrefix(name, "invalid-"):
				counts["invalid"]++
			case strings.HasPrefix(name, "decode-only-invalid-"):
				counts["decode-only"]++
				wantSchema = true
				if decodeOnly[name] == "" {
					t.Errorf("decode-only case without an explanation in decodeOnly")
				}
			default:
				t.Fatalf("name must start with valid-, invalid- or decode-only-invalid-")
			}
			if got := derr == nil; got != wantDecode {
				t.Errorf("Decode: accepted = %v, want %v (error: %v)", got, wantDecode, derr)
			}
			if sok != wantSchema {
				t.Errorf("schema: accepted = %v, want %v (%s)", sok, wantSchema, serr)
			}
		})
	}
	for name := range decodeOnly {
		if !seen[name] {
			t.Errorf("decodeOnly names %s, which has no file in %s", name, casesDir)
		}
	}
	if counts["valid"] < 20 || counts["invalid"] < 40 {
		t.Errorf("only %d valid and %d invalid cases in %s", counts["valid"], counts["invalid"], casesDir)
	}
	t.Logf("%d valid, %d invalid, %d decode-only-invalid cases", counts["valid"], counts["invalid"], counts["decode-only"])
}

// readCase reads a case file, decompressing a .gz one.
func readCase(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return data, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// schemaWalk collects, for every instance location the schema describes (a dotted property
// path, [] for the items of an array: "elems[].type"), the keywords that apply to it anywhere
// in the schema: under properties (and required), items, local $refs, allOf/anyOf/oneOf and
// if/then/else.
type schemaWalk struct {
	root  map[string]any
	paths map[string]map[string][]any // path → keyword → the values found
	refs  map[string]bool             // "ref@path" expanded already
	errs  []string
}

func walkSchema(t *testing.T) *schemaWalk {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	w := &schemaWalk{root: root, paths: map[string]map[string][]any{}, refs: map[string]bool{}}
	w.walk(root, "")
	for _, e := range w.errs {
		t.Error(e)
	}
	return w
}

func (w *schemaWalk) walk(s any, path string) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	if path != "" {
		if w.paths[path] == nil {
			w.paths[path] = map[string][]any{}
		}
		for _, k := range []string{"type", "enum", "maxLength", "minLength", "maxItems", "minItems"} {
			if v, ok := m[k]; ok {
				w.paths[path][k] = append(w.paths[path][k], v)
			}
		}
	}
	if ref, ok := m["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		def := w.root["$defs"].(map[string]any)[name]
		if !ok || def == nil {
			w.errs = append(w.errs, fmt.Sprintf("%s: $ref %q is not a local $defs entry", path, ref))
		} else if key := ref + "@" + path; !w.refs[key] {
			w.refs[key] = true
			w.walk(def, path)
		}
	}
	if req, ok := m["required"].([]any); ok {
		for _, name := range req { // a required name must be a field too
			p := join(path, name.(string))
			if w.paths[p] == nil {
				w.paths[p] = map[string][]any{}
			}
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, sub := range props {
			w.walk(sub, join(path, name))
		}
	}
	w.walk(m["items"], path+"[]")
	for _, k := range []string{"if", "then", "else", "not"} {
		w.walk(m[k], path)
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		subs, _ := m[k].([]any)
		for _, sub := range subs {
			w.walk(sub, path)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// structPaths lists the JSON fields of Message as dotted paths ([] for a slice's elements,
// as in schemaWalk), with the JSON type each one holds.
func structPaths(t reflect.Type, prefix string, out map[string]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := join(prefix, name)
		out[path] = jsonType(f.Type)
		elem := f.Type
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Slice {
			elem = elem.Elem()
			path += "[]"
			out[path] = jsonType(elem)
		}
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Struct && elem != reflect.TypeFor[time.Time]() {
			structPaths(elem, path, out)
		}
	}
}

// jsonType is the JSON type encoding/json reads into a Go type.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "string"
	case t.Kind() == reflect.Slice:
		return "array"
	case t.Kind() == reflect.Struct:
		return "object"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "integer"
	}
	panic("jsonType: no JSON type for " + t.String())
}

// TestSchemaMatchesStruct: every property of the schema is a JSON field of Message (or of a
// type it holds) and every JSON field is a property of the schema, with the same JSON type
// (plus null, which Decode reads as absent), so the two cannot drift apart silently.
func TestSchemaMatchesStruct(t *testing.T) {
	w := walkSchema(t)
	fields := map[string]string{}
	structPaths(reflect.TypeFor[Message](), "", fields)
	for path, kw := range w.paths {
		want, ok := fields[path]
		if !ok {
			t.Errorf("schema property %s is not a JSON field of event.Message", path)
			continue
		}
		types := map[string]bool{}
		for _, v := range kw["type"] {
			switch v := v.(type) {
			case string:
				types[v] = true
			case []any:
				for _, s := range v {
					types[s.(string)] = true
				}
			}
		}
		if !types[want] {
			t.Errorf("schema property %s: types %v, want %s (the Go field's JSON type)", path, keys(types), want)
		}
		for ty := range types {
			if ty != want && ty != "null" {
				t.Errorf("schema property %s allows type %s; the Go field holds %s", path, ty, want)
			}
		}
	}
	for path := range fields {
		if _, ok := w.paths[path]; !ok {
			t.Errorf("JSON field %s of event.Message is not in %s", path, schemaFile)
		}
	}
}

// TestSchemaLimitsAndEnums: the schema's limits are the package's constants, its element
// types are Decode's, and Decode accepts every value the schema's enums list.
func TestSchemaLimitsAndEnums(t *testing.T) {
	w := walkSchema(t)
	limit := func(path, kw string, want int) {
		t.Helper()
		vals := w.paths[path][kw]
		if !slices.Contains(vals, any(float64(want))) {
			t.Errorf("%s: %s %v in the schema, want %d", path, kw, vals, want)
		}
		for _, v := range vals {
			if v.(float64) > float64(want) {
				t.Errorf("%s: %s %v, more than %d", path, kw, v, want)
			}
		}
	}
	for _, p := range []string{"id", "revokes", "sender.userId", "group.id", "recipients[]", "atUserIds[]"} {
		limit(p, "maxLength", MaxIDLen)
	}
	limit("recipients", "maxItems", MaxRecipients)
	limit("atUserIds", "maxItems", MaxRecipients)
	limit("elems", "maxItems", MaxElems)
	limit("offlinePush.ios.image", "maxLength", MaxImageURLLen)

	var elemTypes []string
	for _, e := range w.paths["elems[].type"]["enum"] {
		for _, v := range e.([]any) {
			elemTypes = append(elemTypes, v.(string))
		}
	}
	var known []string
	for k := range knownElemTypes {
		known = append(known, string(k))
	}
	sort.Strings(elemTypes)
	sort.Strings(known)
	if !slices.Equal(elemTypes, known) {
		t.Errorf("schema element types %v, Decode's %v", elemTypes, known)
	}

	const base = `{"id":"m-1","chatType":"group","sender":{"userId":"alice"},"group":{"id":"g-1"},"recipients":["bob"],
"elems":[{"type":"text","text":"hi"}],"offlinePush":{"ios":{},"android":{}}}`
	n := 0
	for path, kw := range w.paths {
		for _, e := range kw["enum"] {
			for _, v := range e.([]any) {
				var doc map[string]any
				if err := json.Unmarshal([]byte(base), &doc); err != nil {
					t.Fatal(err)
				}
				setPath(doc, strings.Split(path, "."), v)
				if path == "kind" && v == "revoke" {
					doc["revokes"] = "m-0"
				}
				data, _ := json.Marshal(doc)
				if _, err := Decode(data); err != nil {
					t.Errorf("schema allows %s = %#v; Decode refuses it: %v", path, v, err)
				}
				n++
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d enum values found in the schema", n)
	}
}

// setPath sets the field at path (as schemaWalk names it) in doc, descending into the first
// element of arrays.
func setPath(doc any, path []string, v any) {
	for {
		if a, ok := doc.([]any); ok {
			doc = a[0]
			continue
		}
		m := doc.(map[string]any)
		name := strings.TrimSuffix(path[0], "[]")
		if len(path) == 1 {
			m[name] = v
			return
		}
		doc, path = m[name], path[1:]
	}
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
