package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a validation error: Field names the offending field in JSON path form
// ("elems[2].type"), Msg says what is wrong with it.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Decode parses one event and validates it against the event contract (see the package comment). The returned
// error is an *Error naming the offending field; it never panics, whatever the input.
func Decode(data []byte) (*Message, error) {
	if !utf8.Valid(data) {
		return nil, &Error{Msg: "invalid UTF-8 at byte " + fmt.Sprint(invalidUTF8At(data))}
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, &Error{Msg: "not a JSON object"}
	}
	m, ok := decodeFast(data)
	if !ok {
		var err error
		if m, err = decodeGeneral(data); err != nil {
			return nil, err
		}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeGeneral is Decode's path for what decodeFast gives up on: checkKeys, then
// encoding/json, whose errors it turns into field-naming ones.
func decodeGeneral(data []byte) (*Message, error) {
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, jsonError(err)
	}
	return &m, nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// jsonError turns encoding/json's errors into field-naming errors.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return &Error{Field: field, Msg: "want " + jsonKind(te.Type.Kind().String()) + ", got " + te.Value}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{Msg: fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error())}
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return &Error{Field: "sentAt", Msg: "want an RFC 3339 time"}
	}
	msg := err.Error()
	if strings.Contains(msg, "Time.UnmarshalJSON") || strings.Contains(msg, "parsing time") {
		return &Error{Field: "sentAt", Msg: "want an RFC 3339 time"}
	}
	return &Error{Msg: "malformed JSON: " + msg}
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "number"
	}
	return k
}
