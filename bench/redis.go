package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"offpush/internal/testenv"
)

// startRedis starts a throwaway redis-server on a free loopback port, without persistence,
// with its files in dir, and returns once it answers PING.
func startRedis(ctx context.Context, dir string) (*testenv.Server, error) {
	s, err := testenv.NewServer(ctx, testenv.ServerOptions{Dir: dir})
	if errors.Is(err, testenv.ErrNoRedis) {
		return nil, fmt.Errorf("no redis-server on PATH (install it or pass --redis ADDR): %w", err)
	}
	return s, err
}

// redisRetained is the memory Redis holds for data: INFO memory's used_memory less
// mem_clients_normal, the buffers of the client connections, which come and go with them.
func (e *env) redisRetained(ctx context.Context) (int64, error) {
	info, err := e.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO memory: %w", err)
	}
	used, err := infoField(info, "used_memory")
	if err != nil {
		return 0, err
	}
	clients, err := infoField(info, "mem_clients_normal")
	return used - clients, err
}

// infoField reads the integer field name of an INFO reply.
func infoField(info, name string) (int64, error) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("redis INFO: %s %q: %w", name, v, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("redis INFO: no %s field", name)
}
