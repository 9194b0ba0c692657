// Package testenv starts throwaway redis-server processes for tests.
//
// Each server listens on 127.0.0.1 on a free port (never 6379), keeps its files in a temporary
// directory and has persistence switched off (--save "" --appendonly no), so a Stop, Restart or
// Kill loses every key: that is what fault tests want (a Redis that came back empty). The
// process is killed when the test ends.
//
// StartCluster (or NewCluster, for a cluster shared by a package's tests) starts a Redis
// Cluster of such servers: masters with optional replicas, created by redis-cli --cluster
// create, with a short node timeout so that a killed master's replica takes over in seconds,
// and cluster-require-full-coverage no, so that the other masters serve their slots meanwhile.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3 // the free port can be taken between probing it and redis binding it
)

// Server is one running redis-server process.
type Server struct {
	// Addr is host:port of the server; it does not change across Restart.
	Addr string

	t    testing.TB // nil for a server of a Cluster made by NewCluster
	bin  string
	args []string

	mu   sync.Mutex
	proc *process
}

// process is one run of redis-server; done is closed when it has exited.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// Start starts a redis-server for t with extraArgs appended to its command line (for example
// "--maxmemory", "10mb") and returns once it answers PING. The server is killed at t's cleanup.
// Without a redis-server on PATH the test is skipped, or fails when the environment has CI=true.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	dir := t.TempDir() // created first so that it is removed after the process is gone
	s, err := startServer(bin, dir, extraArgs)
	if s != nil {
		s.t = t
		t.Cleanup(s.Kill)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return s
}

// lookPath finds a Redis binary; without it the test is skipped, or fails under CI=true.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: install it (apt-get install -y redis-server)", name)
		}
		t.Skip("SKIPPED: " + strings.ToUpper(name) + " NOT FOUND ON PATH. These tests need a real Redis: " +
			"install it (apt-get install -y redis-server, or brew install redis) and rerun.")
	}
	return bin
}

// startServer starts bin on a free port with its files in dir. On error the returned server,
// if not nil, has been killed.
func startServer(bin, dir string, extraArgs []string) (*Server, error) {
	s := &Server{bin: bin}
	for try := 1; ; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", ""}, expand(extraArgs, port)...)
		err = s.start()
		if err == nil {
			return s, nil
		}
		if try == startTries {
			return s, err
		}
	}
}

// expand replaces "{port}" in args with port.
func expand(args []string, port int) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
	}
	return out
}

// freePort asks the kernel for a port that is free right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start launches the process with s.args and waits for PING.
func (s *Server) start() error {
	out := &syncBuffer{}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := waitPing(s.Addr, p); err != nil {
		s.Kill()
		return fmt.Errorf("redis-server %s: %w\n%s", strings.Join(s.args, " "), err, out.String())
	}
	return nil
}

// waitPing polls addr until it answers PING, the process exits, or startTimeout passes.
func waitPing(addr string, p *process) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("exited before answering PING")
		default:
		}
		if Ping(addr) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no PING answer within %v", startTimeout)
}

// Ping sends an inline PING to addr and expects +PONG (a loading server answers -LOADING).
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Client returns a client for the server, closed at t's cleanup. It reconnects on its own
// after a Restart.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// FlushAll deletes every key (and, with FLUSHALL, nothing else: loaded scripts stay).
func (s *Server) FlushAll(t testing.TB) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("testenv: flushall: %v", err)
	}
}

// Stop shuts the server down with SIGTERM and waits for it (SIGKILL after a timeout).
// Without persistence all data is gone.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill kills the server with SIGKILL and waits for it, as a crash would. It does nothing if the
// server is not running.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Restart stops the server and starts it again on the same port with the same arguments. The
// new server is empty: there is no persistence. Clients reconnect on their next command.
func (s *Server) Restart() {
	s.Stop()
	if err := s.StartAgain(); err != nil {
		if s.t == nil {
			panic(err)
		}
		s.t.Fatalf("testenv: restart: %v", err)
	}
}

// StartAgain starts a stopped or killed server on its port with its arguments and waits for
// PING. A cluster node keeps its node id (its cluster config file survives) but no data.
func (s *Server) StartAgain() error {
	if s.Running() {
		return fmt.Errorf("redis-server on %s is running", s.Addr)
	}
	return s.start()
}

// Running reports whether the server's process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the running process and waits until it has exited.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// syncBuffer collects the process output; the process writes while tests may read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
