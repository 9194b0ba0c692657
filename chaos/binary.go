package chaos

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// offpushBinary returns the offpush binary the children run: $OFFPUSH_BIN when set, else one
// built once per test process with `go build` into a temporary directory.
func offpushBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("OFFPUSH_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "offpush-chaos-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "offpush")
		cmd := exec.Command(goTool(), "build", "-o", builtBin, "offpush/cmd/offpush")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build offpush: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

// RemoveBinary deletes the binary offpushBinary built, if any.
func RemoveBinary() {
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
}

// goTool is the go command: $GOROOT/bin/go of the toolchain running the tests when it
// exists, else the one on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
