package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// redisLogger routes go-redis's own log lines (connection pool and cluster warnings) through
// the worker's logger, so that in JSON mode every line the worker writes is JSON. go-redis
// has one logger per process (redis.SetLogger), so the last worker started in a process
// logs them.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis", "detail", fmt.Sprintf(format, v...))
}

// routeLibraryLogs sends the logs of the libraries that have a process-wide logger to log.
func routeLibraryLogs(log *slog.Logger) {
	if log != nil {
		redis.SetLogger(redisLogger{log})
	}
}
