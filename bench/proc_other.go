//go:build !linux

package bench

// loadAvg needs /proc; it is reported as zeros elsewhere.
func loadAvg() [3]float64 { return [3]float64{} }
