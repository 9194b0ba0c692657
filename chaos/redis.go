package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"offpush/internal/testenv"
)

// Redis is the harness's redis-server child process (unless Options.Cluster), with an
// append-only file fsynced on every write, so that a SIGKILL loses nothing acknowledged and
// StartAgain brings the data back; Wipe makes the next StartAgain an empty Redis. The address
// does not change across restarts; each run logs to redis-N.stdout and .stderr.
type Redis = testenv.Server

// startRedis starts a redis-server on a free port with its data in dataDir and its logs in
// logDir.
func startRedis(dataDir, logDir string) (*Redis, error) {
	r, err := testenv.NewServer(context.Background(), testenv.ServerOptions{Dir: dataDir, LogDir: logDir,
		AppendOnly: true, StartTimeout: 15 * time.Second})
	if errors.Is(err, testenv.ErrNoRedis) {
		return nil, fmt.Errorf("redis-server not found on PATH (apt-get install -y redis-server): %w", err)
	}
	return r, err
}
