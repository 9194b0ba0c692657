package chaos

import (
	"os"
	"testing"
)

// chaosEnv gates the long scenarios: `make chaos` sets it.
const chaosEnv = "OFFPUSH_CHAOS"

// TestMain runs the scenarios and prints the ledger table of those that ran.
func TestMain(m *testing.M) {
	code := m.Run()
	PrintTable(os.Stdout)
	RemoveBinary()
	os.Exit(code)
}

// long skips a long scenario unless OFFPUSH_CHAOS=1.
func long(t *testing.T) {
	t.Helper()
	if os.Getenv(chaosEnv) != "1" {
		t.Skipf("long fault scenario: run `make chaos` (or set %s=1) to include it", chaosEnv)
	}
	if testing.Short() {
		t.Skip("long fault scenario skipped with -short")
	}
}

// workload is the full workload under `make chaos` and the short one otherwise.
func workload() WorkloadSpec {
	if os.Getenv(chaosEnv) == "1" {
		return FullWorkload
	}
	return ShortWorkload
}
