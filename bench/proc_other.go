//go:build !linux

package bench

import (
	"errors"
	"os/exec"
	"time"
)

// dieWithParent does nothing here: children still stop when their stdin closes.
func dieWithParent(*exec.Cmd) {}

// procCPU needs /proc; child CPU is reported as unknown (0) elsewhere.
func procCPU(int) (time.Duration, error) {
	return 0, errors.New("child CPU time needs /proc")
}

// loadAvg needs /proc; it is reported as zeros elsewhere.
func loadAvg() [3]float64 { return [3]float64{} }
