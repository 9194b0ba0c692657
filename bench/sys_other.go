//go:build !unix

package bench

import (
	"errors"
	"time"
)

// selfUsage is not available without getrusage.
func selfUsage() (time.Duration, int64, error) {
	return 0, 0, errors.New("offpush bench needs getrusage (a unix system)")
}
