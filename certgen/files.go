package certgen

import (
	"crypto/ecdsa"
	"time"

	"offpush/internal/testenv"
)

// Validity is how long the certificates P12 makes are valid.
const Validity = 365 * 24 * time.Hour

// P12 writes a push certificate for bundleID, valid for Validity, to a new .p12 file in dir
// (a test temporary directory when dir is "") and returns its path. See GenerateP12.
func P12(t testenv.TB, dir, bundleID, password string, modern bool) (path string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path, err := GenerateP12(dir, bundleID, password, modern, time.Now().Add(Validity))
	if err != nil {
		t.Fatalf("%v", err)
	}
	return path
}

// P8 writes a token-auth key to a new .p8 file in dir (a test temporary directory when dir is
// "") and returns its path and the key. See GenerateP8.
func P8(t testenv.TB, dir string) (path string, key *ecdsa.PrivateKey) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path, key, err := GenerateP8(dir)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return path, key
}
