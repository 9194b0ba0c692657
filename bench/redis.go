package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis starts a throwaway redis-server on a free loopback port, without persistence,
// with its files in dir, and returns once it answers PING.
func startRedis(ctx context.Context, dir string) (*proc, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("no redis-server on PATH (install it or pass --redis ADDR): %w", err)
	}
	for try := 1; ; try++ {
		p, addr, err := tryRedis(ctx, bin, dir)
		if err == nil || try == 3 { // the free port can be taken before redis binds it
			return p, addr, err
		}
	}
}

func tryRedis(ctx context.Context, bin, dir string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var out bytes.Buffer
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "")
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := startProc("redis-server", cmd)
	if err != nil {
		return nil, "", err
	}
	if err := awaitPing(ctx, addr, p); err != nil {
		p.kill()
		return nil, "", fmt.Errorf("redis-server on %s: %w\n%s", addr, err, out.String())
	}
	return p, addr, nil
}

// awaitPing polls addr with PING until it answers, the process exits or 10s pass.
func awaitPing(ctx context.Context, addr string, p *proc) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if c.Ping(ctx).Err() == nil {
			return nil
		}
		select {
		case <-p.done:
			return errors.New("exited before answering PING")
		case <-ctx.Done():
			return fmt.Errorf("no PING answer: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a loopback port that is free right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
