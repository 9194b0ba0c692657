package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"offpush/certgen"
)

// valid returns a configuration that passes Validate: Default() with a certificate-auth and a
// token-auth certificate whose files are in a temporary directory, and an API token.
func valid(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	p8, _ := certgen.P8(t, dir)
	cfg := Default()
	cfg.APNs.Certificates = []Certificate{
		{ID: 2382, BundleID: "com.example.im", Environment: Production,
			P12File: certgen.P12(t, dir, "com.example.im", "p12-secret", true), P12Password: "p12-secret"},
		{ID: 2516, BundleID: "com.example.im.enterprise", Environment: Production,
			KeyFile: p8, KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ"},
	}
	cfg.API.Tokens = []string{"api-secret"}
	return cfg
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantKeyError fails unless err is a *KeyError for key whose message contains each of parts.
func wantKeyError(t *testing.T, err error, key string, parts ...string) {
	t.Helper()
	var ke *KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("error = %v, want a KeyError for %s", err, key)
	}
	if ke.Key != key {
		t.Errorf("error names %q, want %q (error: %v)", ke.Key, key, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
