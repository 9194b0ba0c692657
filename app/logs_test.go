package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// TestRedisLogger: a go-redis log line becomes one JSON record of the worker's logger.
func TestRedisLogger(t *testing.T) {
	var buf bytes.Buffer
	l := redisLogger{slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(context.Background(), "redis: %s:%d: connection pool: %v", "pool.go", 770, "failed to dial")
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
		t.Fatalf("not one JSON record: %q: %v", buf.String(), err)
	}
	if rec["msg"] != "redis" || rec["level"] != "WARN" || rec["detail"] != "redis: pool.go:770: connection pool: failed to dial" {
		t.Errorf("record %v", rec)
	}
}
