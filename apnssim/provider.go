package apnssim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sideshow/apns2"
)

// Limits of Apple's provider API ("Sending notification requests to APNs").
const (
	maxPayload     = 4096 // bytes of a regular remote notification
	maxCollapseID  = 64   // bytes of apns-collapse-id
	minTokenHexLen = 64   // device tokens are 32 bytes today; longer ones are allowed
	maxTokenHexLen = 200  // 100 bytes
)

// ReasonBadPayload answers a payload that is not a JSON object with an "aps" object. Apple
// documents no reason string for it; this one is the simulator's (400, like the other
// malformed-request reasons).
const ReasonBadPayload = "BadPayload"

// pushTypes are the apns-push-type values Apple documents.
var pushTypes = map[string]bool{
	"alert": true, "background": true, "location": true, "voip": true, "complication": true,
	"fileprovider": true, "mdm": true, "liveactivity": true, "pushtotalk": true,
	"widgets": true, "controls": true,
}

// rejection is a non-200 answer; the zero value means "accepted".
type rejection struct {
	status     int
	reason     string
	timestamp  time.Time // 410 only
	retryAfter int       // seconds; 0 sends no Retry-After
}

func reject(status int, reason string) rejection { return rejection{status: status, reason: reason} }

func (r rejection) ok() bool { return r.status == 0 }

// serveProvider answers POST /3/device/{token} as APNs does.
func (s *Server) serveProvider(w http.ResponseWriter, r *http.Request) {
	s.enter()
	defer s.leave()
	if !s.delay(r) {
		return
	}
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	var d Delivery
	if rej := s.check(r, &d, (*buf)[:cap(*buf)]); !rej.ok() {
		s.recordRejected(rej.reason)
		writeRejection(w, d.Headers.ID, rej)
		return
	}
	d.ReceivedAt = time.Now()
	var line []byte
	if s.wantLine() {
		line = appendDelivery(d.Payload[len(d.Payload):], &d) // after the payload, in buf
	}
	s.record(line)
	h := w.Header()
	h["Apns-Id"] = []string{d.Headers.ID}
	h["Date"] = nil // APNs sends none; saves net/http formatting one
	w.WriteHeader(http.StatusOK)
}

func writeRejection(w http.ResponseWriter, id string, rej rejection) {
	h := w.Header()
	h["Date"] = nil
	if id != "" {
		h["Apns-Id"] = []string{id}
	}
	h["Content-Type"] = []string{"application/json"}
	if rej.retryAfter > 0 {
		h["Retry-After"] = []string{strconv.Itoa(rej.retryAfter)}
	}
	w.WriteHeader(rej.status)
	var body [128]byte
	_, _ = w.Write(appendErrorBody(body[:0], rej.reason, rej.timestamp))
}

// delay waits the injected latency and jitter; false if the client went away meanwhile.
func (s *Server) delay(r *http.Request) bool {
	d := s.answerDelay()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// bufPool holds request buffers: the payload, then the JSON line of the delivery after it.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4*maxPayload); return &b }}

// check validates a provider request in about the order APNs does, filling d (payload read
// into buf), and says why it is rejected, if it is. d.Headers.ID is set either way.
func (s *Server) check(r *http.Request, d *Delivery, buf []byte) rejection {
	if rej := s.checkHeaders(r, d); !rej.ok() {
		return rej
	}
	if f, ok := s.takeFault(); ok {
		rej := reject(f.Status, f.Reason)
		rej.retryAfter = f.RetryAfter
		if f.Status == http.StatusGone {
			rej.timestamp = time.Now()
		}
		return rej
	}
	payload, rej := readPayload(r, buf)
	if !rej.ok() {
		return rej
	}
	d.Payload = payload
	if ts, gone := s.unregisteredAt(d.Token); gone {
		rej := reject(http.StatusGone, apns2.ReasonUnregistered)
		rej.timestamp = ts
		return rej
	}
	return rejection{}
}

// checkHeaders checks method, path, credentials and the apns-* headers, filling d.
func (s *Server) checkHeaders(r *http.Request, d *Delivery) rejection {
	id, rej := s.apnsID(r.Header)
	d.Headers.ID = id
	if !rej.ok() {
		return rej
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	switch {
	case r.Method != http.MethodPost:
		return reject(http.StatusMethodNotAllowed, apns2.ReasonMethodNotAllowed)
	case !ok || strings.Contains(token, "/"):
		return reject(http.StatusNotFound, apns2.ReasonBadPath)
	}
	certTopic, rej := s.authorize(r)
	if !rej.ok() {
		return rej
	}
	if rej := s.checkTopic(r.Header, certTopic, &d.Headers); !rej.ok() {
		return rej
	}
	if rej := checkToken(token); !rej.ok() {
		return rej
	}
	d.Token = token
	return checkOptions(r.Header, &d.Headers)
}

// apnsID is the request's apns-id (canonical UUID) or a new one.
func (s *Server) apnsID(h http.Header) (string, rejection) {
	v, ok := single(h, "Apns-Id")
	switch {
	case !ok:
		return s.newID(), reject(http.StatusBadRequest, apns2.ReasonDuplicateHeaders)
	case v == "":
		return s.newID(), rejection{}
	case !isUUID(v):
		return s.newID(), reject(http.StatusBadRequest, apns2.ReasonBadMessageID)
	}
	return v, rejection{}
}

func (s *Server) checkTopic(h http.Header, certTopic string, d *Headers) rejection {
	topic, ok := single(h, "Apns-Topic")
	switch {
	case !ok:
		return reject(http.StatusBadRequest, apns2.ReasonDuplicateHeaders)
	case topic == "" && certTopic == "":
		return reject(http.StatusBadRequest, apns2.ReasonMissingTopic)
	case topic == "":
		topic = certTopic // APNs uses the certificate's subject as the default topic
	case certTopic != "" && !certCovers(certTopic, topic):
		return reject(http.StatusBadRequest, apns2.ReasonTopicDisallowed)
	}
	if len(s.topics) > 0 && !s.topics[topic] {
		return reject(http.StatusBadRequest, apns2.ReasonTopicDisallowed)
	}
	d.Topic = topic
	return rejection{}
}

func checkToken(token string) rejection {
	switch {
	case token == "":
		return reject(http.StatusBadRequest, apns2.ReasonMissingDeviceToken)
	case len(token) < minTokenHexLen || len(token) > maxTokenHexLen || len(token)%2 != 0 || !isHex(token):
		return reject(http.StatusBadRequest, apns2.ReasonBadDeviceToken)
	}
	return rejection{}
}

// checkOptions checks apns-push-type, apns-priority, apns-expiration and apns-collapse-id.
func checkOptions(h http.Header, d *Headers) rejection {
	var ok [4]bool
	d.PushType, ok[0] = single(h, "Apns-Push-Type")
	d.Priority, ok[1] = single(h, "Apns-Priority")
	d.Expiration, ok[2] = single(h, "Apns-Expiration")
	d.CollapseID, ok[3] = single(h, "Apns-Collapse-Id")
	switch {
	case !ok[0] || !ok[1] || !ok[2] || !ok[3]:
		return reject(http.StatusBadRequest, apns2.ReasonDuplicateHeaders)
	case d.PushType != "" && !pushTypes[d.PushType]:
		return reject(http.StatusBadRequest, apns2.ReasonInvalidPushType)
	case d.Priority != "" && d.Priority != "10" && d.Priority != "5" && d.Priority != "1":
		return reject(http.StatusBadRequest, apns2.ReasonBadPriority)
	case d.Expiration != "" && !isUint(d.Expiration):
		return reject(http.StatusBadRequest, apns2.ReasonBadExpirationDate)
	case len(d.CollapseID) > maxCollapseID:
		return reject(http.StatusBadRequest, apns2.ReasonBadCollapseID)
	}
	return checkVoIP(d)
}

// checkVoIP holds VoIP pushes to what a PushKit call needs: the bundle's ".voip" topic
// (and that topic only for them), and apns-expiration 0, since a call that cannot ring now
// must not ring later. Apple does not refuse a stored VoIP push, the simulator does: a provider
// that stores calls is wrong.
func checkVoIP(d *Headers) rejection {
	voipTopic := strings.HasSuffix(d.Topic, ".voip")
	switch {
	case d.PushType == "voip" && !voipTopic:
		return reject(http.StatusBadRequest, apns2.ReasonTopicDisallowed)
	case voipTopic && d.PushType != "voip":
		return reject(http.StatusBadRequest, apns2.ReasonInvalidPushType)
	case d.PushType == "voip" && d.Expiration != "0":
		return reject(http.StatusBadRequest, apns2.ReasonBadExpirationDate)
	}
	return rejection{}
}

// readPayload reads the body into buf (of at least maxPayload+1 bytes): non-empty, at most
// maxPayload bytes, a JSON object with an "aps" object.
func readPayload(r *http.Request, buf []byte) ([]byte, rejection) {
	if r.ContentLength > maxPayload {
		return nil, reject(http.StatusRequestEntityTooLarge, apns2.ReasonPayloadTooLarge)
	}
	n, err := io.ReadFull(r.Body, buf[:maxPayload+1])
	p := buf[:n]
	switch {
	case err != nil && err != io.ErrUnexpectedEOF && err != io.EOF:
		return nil, reject(http.StatusBadRequest, ReasonBadPayload)
	case n == 0:
		return nil, reject(http.StatusBadRequest, apns2.ReasonPayloadEmpty)
	case n > maxPayload:
		return nil, reject(http.StatusRequestEntityTooLarge, apns2.ReasonPayloadTooLarge)
	case !json.Valid(p) || !hasAPSObject(p):
		return nil, reject(http.StatusBadRequest, ReasonBadPayload)
	}
	return p, rejection{}
}

// single is the only value of header key ("" if absent); false if it is repeated.
func single(h http.Header, key string) (string, bool) {
	switch v := h[key]; len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	return "", false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func isUint(s string) bool {
	_, err := strconv.ParseUint(s, 10, 63)
	return err == nil
}

// isUUID reports whether s is 8-4-4-4-12 hex digits, the form APNs requires of apns-id.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHex(s[i : i+1]) {
			return false
		}
	}
	return true
}

// newID makes an apns-id cheaply: a per-server random prefix and a counter, in the
// upper-case UUID form APNs answers with.
func (s *Server) newID() string {
	var raw [16]byte
	copy(raw[:8], s.idSeed[:])
	n := s.idSeq.Add(1)
	for i := 15; i >= 8; i-- {
		raw[i] = byte(n)
		n >>= 8
	}
	const digits = "0123456789ABCDEF"
	var out [36]byte
	j := 0
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[c>>4], digits[c&0xf]
		j += 2
	}
	return string(out[:])
}
