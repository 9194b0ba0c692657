package stateapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// FuzzHandlers sends arbitrary requests (method, path, body, with or without the bearer token
// and the JSON Content-Type) to the handler over a live Redis: the answer is never a 5xx
// (Redis is up, so not even 503) and, unless it is a 204 or a HEAD, one JSON object; every
// error has an "error" string.
func FuzzHandlers(f *testing.F) {
	dev := "/v1/users/bob/devices/" + tokA
	for _, s := range []struct {
		method, path, body string
	}{
		{"PUT", dev, `{"busiId":2382}`},
		{"DELETE", dev, ""},
		{"POST", dev + "/background", `{"c2cUnread":3}`},
		{"POST", dev + "/foreground", `{}`},
		{"GET", "/v1/users/bob/devices", ""},
		{"PUT", "/v1/users/bob/apns-config", `{"openPush":1,"c2cSound":"a.caf","groupSound":"b.caf"}`},
		{"GET", "/v1/users/bob/apns-config", ""},
		{"PUT", "/v1/users/bob/receive-opts/group:g-42", `{"opt":"notNotify"}`},
		{"PUT", "/v1/users/%7B/receive-opts/c2c:%FF", `{"opt":1}`},
		{"POST", dev + "/background", `{"c2cUnread":1e999}`},
		{"GET", "//v1/../users/./bob/devices?x=1#y", ""},
		{"HEAD", "/v1/users/bob/devices", ""},
		{"PATCH", "*", `[`},
		{"PUT", "http://other/v1/users/bob/apns-config", "{\"c2cSound\":\"\\u0000\"}"},
	} {
		f.Add(s.method, s.path, []byte(s.body), true, true)
	}
	f.Add("PUT", dev, []byte(`{"busiId":2382}`), false, true)
	f.Add("PUT", dev, []byte(`{"busiId":2382}`), true, false)
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, method, path string, body []byte, auth, jsonType bool) {
		req := rawRequest(method, path, body, auth, jsonType)
		if req == nil {
			return // net/http's parser rejects it: the server answers 400 itself
		}
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		checkAnswer(t, req, rec)
	})
}

// rawRequest parses the request as the server would read it off the wire, or returns nil.
func rawRequest(method, path string, body []byte, auth, jsonType bool) *http.Request {
	var b bytes.Buffer
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: api\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	if auth {
		b.WriteString("Authorization: Bearer " + apiToken + "\r\n")
	}
	if jsonType {
		b.WriteString("Content-Type: application/json\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		return nil
	}
	return req
}

// checkAnswer asserts the API's invariants on one answer.
func checkAnswer(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s %q: status %d, body %s", req.Method, req.RequestURI, rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent || req.Method == http.MethodHead {
		return
	}
	var obj map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &obj); err != nil {
		t.Fatalf("%s %q: status %d, body %q is not a JSON object: %v", req.Method, req.RequestURI, rec.Code, rec.Body, err)
	}
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%s %q: Content-Type %q", req.Method, req.RequestURI, rec.Header().Get("Content-Type"))
	}
	if _, ok := obj["error"].(string); rec.Code >= 400 && !ok {
		t.Fatalf("%s %q: status %d without an error string: %s", req.Method, req.RequestURI, rec.Code, rec.Body)
	}
}
