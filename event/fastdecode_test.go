package event

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// caseFiles returns the contents of testdata/schema's cases, by name.
func caseFiles(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(casesDir, "*.json*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no cases in %s: %v", casesDir, err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		out[strings.TrimSuffix(strings.TrimSuffix(filepath.Base(p), ".gz"), ".json")] = data
	}
	return out
}

// fuzzCorpus returns the inputs of FuzzDecode's stored corpus.
func fuzzCorpus(t testing.TB) [][]byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "*"))
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, lit, ok := strings.Cut(string(data), "[]byte(")
		if !ok {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// sameAsGeneral fails t unless decodeFast either gives up on data or yields what the
// general path (checkKeys and encoding/json) yields. It reports whether decodeFast took it.
func sameAsGeneral(t *testing.T, data []byte) bool {
	t.Helper()
	data = bytes.TrimSpace(data)
	if !utf8.Valid(data) || len(data) == 0 || data[0] != '{' {
		return false // Decode refuses these before either path
	}
	fast, ok := decodeFast(data)
	if !ok {
		if fast != nil {
			t.Fatal("decodeFast returned a message and gave up")
		}
		return false
	}
	general, err := decodeGeneral(data)
	if err != nil {
		t.Fatalf("decodeFast accepted what the general path refuses (%v):\n%s", err, data)
	}
	if !reflect.DeepEqual(fast, general) {
		t.Fatalf("decodeFast and the general path differ on\n%s\nfast    %#v\ngeneral %#v", data, fast, general)
	}
	return true
}

// FuzzDecodeFast: whatever decodeFast accepts, the general path accepts with the same result.
func FuzzDecodeFast(f *testing.F) {
	for _, data := range caseFiles(f) {
		if len(data) < 4096 {
			f.Add(data)
		}
	}
	for _, data := range fuzzCorpus(f) {
		f.Add(data)
	}
	for _, s := range fastGiveUps {
		f.Add([]byte(s))
	}
	f.Add([]byte(valid))
	f.Fuzz(func(t *testing.T, data []byte) { sameAsGeneral(t, data) })
}

// TestDecodeFastTakesValidCases: the fast path reads every valid case of the contract
// (except the ones listed, which it leaves to encoding/json), with the general path's result.
func TestDecodeFastTakesValidCases(t *testing.T) {
	leaves := map[string]bool{
		"valid-revoke-unchecked-elems-and-offlinepush": true, // a null elem
	}
	n := 0
	for name, data := range caseFiles(t) {
		took := sameAsGeneral(t, data)
		if strings.HasPrefix(name, "valid-") && took == leaves[name] {
			t.Errorf("%s: decodeFast took it: %v", name, took)
		}
		if took {
			n++
		}
	}
	if !sameAsGeneral(t, []byte(valid)) {
		t.Error("decodeFast gave up on the package's example event")
	}
	t.Logf("decodeFast took %d cases", n)
}

// fastGiveUps are inputs decodeFast leaves to encoding/json, each because encoding/json
// gives it a meaning the fast path does not reproduce (or an error worded from it).
var fastGiveUps = map[string]string{
	// encoding/json decodes a repeated object into the same struct, merging the two.
	"repeated object": `{"id":"m","chatType":"group","group":{"id":"g"},"group":{"name":"n"},"sender":{"userId":"a"},"elems":[{"type":"text"}]}`,
	"repeated string": `{"id":"m","id":"n","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}]}`,
	// a surrogate pair is one character; a lone surrogate becomes U+FFFD.
	"surrogate pair": `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text","text":"\ud83d\ude00"}]}`,
	"lone surrogate": `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text","text":"\ud83d"}]}`,
	// an escaped key is matched after unescaping.
	"escaped key": `{"\u0069d":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}]}`,
	// null in a string array is an empty string.
	"null recipient": `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":[null],"elems":[{"type":"text"}]}`,
	"null elem":      `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[null]}`,
	"wrong type":     `{"id":1,"chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}]}`,
	"exponent":       `{"id":"m","sdkAppId":1e3,"chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}]}`,
	"case":           `{"ID":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}]}`,
	"deep":           `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}],"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	"trailing":       `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}]} {}`,
	"bad time":       `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}],"sentAt":"2026-02-30T00:00:00Z"}`,
}

// TestDecodeFastGivesUp: on each of fastGiveUps the fast path gives up and Decode answers
// as encoding/json does.
func TestDecodeFastGivesUp(t *testing.T) {
	for name, s := range fastGiveUps {
		if _, ok := decodeFast([]byte(s)); ok {
			t.Errorf("%s: decodeFast took it", name)
		}
	}
	m, err := Decode([]byte(fastGiveUps["repeated object"]))
	if err != nil || m.Group == nil || *m.Group != (GroupInfo{ID: "g", Name: "n"}) {
		t.Errorf("repeated object: %+v, %v; want the two objects merged", m, err)
	}
	if m, err := Decode([]byte(fastGiveUps["surrogate pair"])); err != nil || m.Elems[0].Text != "😀" {
		t.Errorf("surrogate pair: %v", err)
	}
	if m, err := Decode([]byte(fastGiveUps["escaped key"])); err != nil || m.ID != "m" {
		t.Errorf("escaped key: %v", err)
	}
	if _, err := Decode([]byte(fastGiveUps["case"])); err == nil || !strings.Contains(err.Error(), "only in case") {
		t.Errorf("case: %v", err)
	}
	if _, err := Decode([]byte(fastGiveUps["wrong type"])); err == nil || err.Error() != "id: want string, got number" {
		t.Errorf("wrong type: %v", err)
	}
}

// TestDecodeFastEscapes: the escapes the fast path reads itself come out as encoding/json
// reads them.
func TestDecodeFastEscapes(t *testing.T) {
	data := []byte(`{"id":"m","chatType":"c2c","sender":{"userId":"a\\b\"c\/d"},"recipients":["b"],` +
		`"elems":[{"type":"text","text":"line\none\ttab \u00e9\u4e2d\u0000 \b\f\r"}],"extra":["\"",1.5e-3,-0,true,false,null,{"k":{}}]}`)
	if !sameAsGeneral(t, data) {
		t.Fatal("decodeFast gave up")
	}
	m, _ := decodeFast(data)
	if m.Sender.UserID != `a\b"c/d` || m.Elems[0].Text != "line\none\ttab é中\x00 \b\f\r" {
		t.Errorf("%q %q", m.Sender.UserID, m.Elems[0].Text)
	}
}

// TestFieldNamesFoldApart: checkKey's ASCII shortcut assumes every field name is ASCII and
// that no two fold to the same name.
func TestFieldNamesFoldApart(t *testing.T) {
	if len(lowerFieldNames) != len(fieldNames) {
		t.Fatalf("%d field names fold to %d", len(fieldNames), len(lowerFieldNames))
	}
	for name := range fieldNames {
		if _, ascii := asciiLower(nil, []byte(name)); !ascii {
			t.Errorf("field name %q is not ASCII", name)
		}
	}
}

// TestDecodeAllocs: the fast path allocates little more than the strings it returns.
func TestDecodeAllocs(t *testing.T) {
	data := []byte(valid)
	n := testing.AllocsPerRun(100, func() {
		if _, err := Decode(data); err != nil {
			t.Fatal(err)
		}
	})
	if n > 14 {
		t.Errorf("%v allocations per Decode, want at most 14", n)
	}
}

// TestDecodeSharesSmallEvents: the strings of an event up to shareMax bytes are substrings of
// one copy of it; those of a larger event are copies of their own, so that a string kept
// after the event keeps no more than shareMax bytes alive.
func TestDecodeSharesSmallEvents(t *testing.T) {
	shared := func(data string) bool {
		m, ok := decodeFast([]byte(data))
		if !ok {
			t.Fatalf("decodeFast gave up on %.80s…", data)
		}
		// In one copy, the sender's id is as far after the message id as in data.
		dist := strings.Index(data, `"alice"`) - strings.Index(data, `"m1"`)
		return uintptr(unsafe.Pointer(unsafe.StringData(m.Sender.UserID)))-uintptr(unsafe.Pointer(unsafe.StringData(m.ID))) == uintptr(dist)
	}
	if !shared(valid) {
		t.Error("a small event's strings are not substrings of one copy")
	}
	large := strings.Replace(valid, `"recipients":["bob","carol"]`, `"recipients":["bob","carol","`+strings.Repeat("x", shareMax)+`"]`, 1)
	if shared(large) {
		t.Error("a large event's strings share one copy of it")
	}
}
