package apnssim

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Delivery is one accepted notification, as GET /sim/deliveries and the Deliveries writer
// show it (one JSON line each).
type Delivery struct {
	Token      string          `json:"token"`
	Headers    Headers         `json:"headers"`
	Payload    json.RawMessage `json:"payload"` // the request body, byte for byte
	ReceivedAt time.Time       `json:"receivedAt"`
}

// Headers are the provider API request headers of a Delivery; absent ones are omitted.
// Topic is the certificate's topic when certificate auth omitted apns-topic; ID is the
// apns-id answered.
type Headers struct {
	Topic      string `json:"apns-topic,omitempty"`
	PushType   string `json:"apns-push-type,omitempty"`
	Priority   string `json:"apns-priority,omitempty"`
	Expiration string `json:"apns-expiration,omitempty"`
	CollapseID string `json:"apns-collapse-id,omitempty"`
	ID         string `json:"apns-id,omitempty"`
}

// appendDelivery appends d as one JSON line. It writes what json.Marshal would, without
// reflection and without re-encoding the payload (compacted only if it spans lines).
func appendDelivery(b []byte, d *Delivery) []byte {
	b = append(b, `{"token":`...)
	b = appendString(b, d.Token)
	b = append(b, `,"headers":{`...)
	first := true
	for _, h := range [...]struct{ k, v string }{
		{"apns-topic", d.Headers.Topic}, {"apns-push-type", d.Headers.PushType},
		{"apns-priority", d.Headers.Priority}, {"apns-expiration", d.Headers.Expiration},
		{"apns-collapse-id", d.Headers.CollapseID}, {"apns-id", d.Headers.ID},
	} {
		if h.v == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, h.k...)
		b = append(b, `":`...)
		b = appendString(b, h.v)
	}
	b = append(b, `},"payload":`...)
	b = appendPayload(b, d.Payload)
	b = append(b, `,"receivedAt":"`...)
	b = d.ReceivedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

func appendPayload(b []byte, p json.RawMessage) []byte {
	if !bytes.ContainsAny(p, "\r\n") {
		return append(b, p...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p); err != nil {
		return append(b, "null"...) // not reached: payloads are validated before they are kept
	}
	return append(b, buf.Bytes()...)
}

// appendString appends s as a JSON string. Header values are short ASCII; anything unusual
// goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendErrorBody appends APNs's error body: {"reason":"…"} plus "timestamp" (ms) for 410.
func appendErrorBody(b []byte, reason string, ts time.Time) []byte {
	b = append(b, `{"reason":`...)
	b = appendString(b, reason)
	if !ts.IsZero() {
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, ts.UnixMilli(), 10)
	}
	return append(b, '}')
}

// hasAPSObject reports whether the valid JSON document p is an object whose top-level "aps"
// member is an object. It scans without decoding: p was checked with json.Valid.
func hasAPSObject(p []byte) bool {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(p, i)
		if i >= len(p) || p[i] != '"' {
			return false // '}' of an object without "aps"
		}
		end := skipString(p, i)
		key := p[i+1 : end-1]
		i = skipSpace(p, end)
		i = skipSpace(p, i+1) // ':'
		if string(key) == "aps" {
			return i < len(p) && p[i] == '{'
		}
		i = skipSpace(p, skipValue(p, i))
		if i >= len(p) || p[i] != ',' {
			return false
		}
		i++
	}
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting with the quote at p[i].
func skipString(p []byte, i int) int {
	for i++; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(p)
}

// skipValue returns the index after the value starting at p[i].
func skipValue(p []byte, i int) int {
	depth := 0
	for i < len(p) {
		switch c := p[i]; {
		case c == '"':
			i = skipString(p, i)
			if depth == 0 {
				return i
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return i
		}
		i++
	}
	return i
}
