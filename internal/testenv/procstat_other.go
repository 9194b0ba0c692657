//go:build !linux

package testenv

import (
	"errors"
	"time"
)

// ProcCPU needs /proc: elsewhere the CPU time of a process is unknown.
func ProcCPU(int) (time.Duration, error) {
	return 0, errors.New("the CPU time of a process needs /proc")
}
