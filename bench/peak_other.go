//go:build !linux

package bench

// resetPeakRSS cannot reset the peak here: the second window's peak includes the first's.
func resetPeakRSS() {}

// peakRSS is getrusage's peak.
func peakRSS(fallback int64) int64 { return fallback }
