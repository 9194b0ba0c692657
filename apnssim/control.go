package apnssim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxControlBody bounds a control request body.
const maxControlBody = 64 << 10

// serveControl answers the control API under /sim/ (JSON over the same TLS listener):
//
//	POST /sim/unregister {"token":"…","timestamp":ms}   later pushes to token answer 410
//	POST /sim/fault {"status":503,"reason":"…","count":N,"retryAfter":s}   count 0 clears
//	POST /sim/latency {"ms":100,"jitterMs":20}   answers wait ms + [0, jitterMs); no jitterMs: 0
//	POST /sim/reset
//	GET  /sim/deliveries   JSON lines
//	GET  /sim/stats
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	var err error
	switch r.Method + " " + r.URL.Path {
	case "POST /sim/unregister":
		err = s.controlUnregister(r)
	case "POST /sim/fault":
		var f Fault
		if err = decodeControl(r, &f); err == nil {
			err = checkFault(f)
		}
		if err == nil {
			s.SetFault(f)
		}
	case "POST /sim/latency":
		err = s.controlLatency(r)
	case "POST /sim/reset":
		s.Reset()
	case "GET /sim/deliveries":
		s.writeDeliveries(w)
		return
	case "GET /sim/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
		return
	default:
		http.Error(w, `{"error":"unknown control endpoint"}`, http.StatusNotFound)
		return
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	s.opts.Logf("apns simulator: %s", r.URL.Path)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) controlUnregister(r *http.Request) error {
	var req struct {
		Token     string `json:"token"`
		Timestamp int64  `json:"timestamp"` // ms since the epoch; 0: now
	}
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return errors.New("token: required")
	}
	ts := time.Now()
	if req.Timestamp > 0 {
		ts = time.UnixMilli(req.Timestamp)
	}
	s.MarkUnregistered(req.Token, ts)
	return nil
}

// controlLatency sets the latency and the jitter (milliseconds, fractions allowed) together.
func (s *Server) controlLatency(r *http.Request) error {
	var req struct {
		MS       float64 `json:"ms"`
		JitterMS float64 `json:"jitterMs"`
	}
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	if req.MS < 0 || req.JitterMS < 0 {
		return errors.New("ms, jitterMs: want ≥ 0")
	}
	s.SetLatency(milliseconds(req.MS))
	s.SetJitter(milliseconds(req.JitterMS))
	return nil
}

func milliseconds(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func checkFault(f Fault) error {
	if f.Count > 0 && (f.Status < 400 || f.Status > 599) {
		return fmt.Errorf("status: want 400..599, got %d", f.Status)
	}
	return nil
}

func decodeControl(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s body: %w", r.URL.Path, err)
	}
	return nil
}

func (s *Server) writeDeliveries(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	_ = writeChunks(w, s.keptChunks())
}
