package testenv

import (
	"os"
	"os/exec"
	"strings"
)

// TB is the part of testing.TB the helpers of this package use; *testing.T, *testing.B and
// testing.TB satisfy it. It is an interface of its own so that this package, used by the
// production binary, does not import package testing.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
	Failed() bool
}

// LookPath returns the path of the executable name for a test that needs it. Without it on
// PATH the test is skipped, loudly, or fails when the environment has CI=true. need says what
// the tests need it for ("a real Redis"), install how to get it ("apt-get install -y
// redis-server, or brew install redis").
func LookPath(t TB, name, need, install string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: install it (%s)", name, install)
		}
		t.Skip("SKIPPED: " + strings.ToUpper(name) + " NOT FOUND ON PATH. These tests need " + need + ": " +
			"install it (" + install + ") and rerun.")
	}
	return bin
}
