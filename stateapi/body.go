package stateapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"unicode/utf8"
)

// members maps the JSON member names a route accepts to pointers to pointer-typed fields
// (**int, **int64, **string): a member that is absent or null leaves its field nil.
type members map[string]any

// decodeBody reads r's body as one JSON object into fields. An empty body is a 400 if
// required, else nothing to decode. A body needs Content-Type application/json (415) and
// must fit MaxBodyBytes (413, the *http.MaxBytesError is returned as is).
//
// The decoding is strict, and stricter than encoding/json with DisallowUnknownFields,
// which matches member names case-insensitively ("BUSIID" would set busiId): names match
// exactly, and an unknown member, data after the object, a body that is not an object or
// not UTF-8, and a member of the wrong type are each a 400 naming the member.
func decodeBody(r *http.Request, required bool, fields members) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return err
		}
		return badRequest("body", "could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if required {
			return badRequest("body", "required")
		}
		return nil
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return &apiError{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	obj, err := parseObject(b)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(obj)) { // sorted: the same error every time
		if err := decodeMember(fields, name, obj[name]); err != nil {
			return err
		}
	}
	return nil
}

// isJSON reports whether a Content-Type header names application/json (parameters such as
// charset are allowed).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// parseObject splits b, which must hold exactly one JSON object, into its members.
func parseObject(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, badRequest("body", "not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return nil, badRequest("body", "must be a JSON object")
		}
		return nil, badRequest("body", "invalid JSON")
	}
	if obj == nil {
		return nil, badRequest("body", "must be a JSON object")
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, badRequest("body", "unexpected data after the JSON object")
	}
	return obj, nil
}

// decodeMember decodes the member name of the body into its field.
func decodeMember(fields members, name string, raw json.RawMessage) error {
	ptr, ok := fields[name]
	if !ok {
		return badRequest("body", "unknown field %s", quoteShort(name))
	}
	if err := json.Unmarshal(raw, ptr); err != nil {
		return badRequest(name, "must be %s", kind(ptr))
	}
	return nil
}

// kind describes the JSON type a field pointer takes.
func kind(ptr any) string {
	switch ptr.(type) {
	case **int, **int64:
		return "an integer"
	case **string:
		return "a string"
	}
	return "a valid value"
}

// quoteShort quotes s for an error message, cut to 64 bytes: the name comes from the client.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}
