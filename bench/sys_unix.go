//go:build unix

package bench

import (
	"runtime"
	"syscall"
	"time"
)

// selfUsage returns this process's user+system CPU time and its peak resident set size in
// bytes, from getrusage(RUSAGE_SELF).
func selfUsage() (time.Duration, int64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	rss := int64(ru.Maxrss) * 1024 // kilobytes on Linux and the BSDs
	if runtime.GOOS == "darwin" {
		rss = int64(ru.Maxrss) // bytes on macOS
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rss, nil
}
