package stateapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
)

// apiError is a client error: its status and the message of the JSON error body.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

// badRequest is a 400 whose message names the field: "field: problem".
func badRequest(field, format string, args ...any) error {
	return &apiError{http.StatusBadRequest, field + ": " + fmt.Sprintf(format, args...)}
}

// errorBody is the body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// writeError writes {"error": msg} with code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{msg})
}

// writeJSON writes v as JSON with code. Responses are never cached: getAPNSConfig must read
// Redis every time.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // the response types always marshal; keep the answer JSON regardless
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// statusWriter remembers the status written through it, for metrics and recover.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the status sent, 200 if the handler wrote nothing.
func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// captureWriter records the status and headers of the mux's own 404/405/redirect answers,
// which are plain text, so that unmatched can answer in JSON instead.
type captureWriter struct {
	h    http.Header
	code int
}

func (c *captureWriter) Header() http.Header {
	if c.h == nil {
		c.h = make(http.Header)
	}
	return c.h
}

func (c *captureWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *captureWriter) Write(b []byte) (int, error) { return len(b), nil }

// cleanPath is net/http's path canonicalization (a leading slash, path.Clean, the trailing
// slash kept): the mux redirects any path that differs from it.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}
