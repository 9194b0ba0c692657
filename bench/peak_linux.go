package bench

import (
	"os"
	"strconv"
	"strings"
)

// resetPeakRSS resets this process's peak resident set (VmHWM) to its current size, so that
// the next window's peak is its own.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM since the last resetPeakRSS, in bytes; fallback when it cannot be read.
func peakRSS(fallback int64) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fallback
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return fallback
}
