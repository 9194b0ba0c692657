package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3 // the free port can be taken between probing it and redis binding it
)

// ErrNoRedis is returned by NewServer when redis-server is not on PATH, and by NewCluster when
// redis-server or redis-cli is not.
var ErrNoRedis = errors.New("redis-server or redis-cli not found on PATH")

// ServerOptions are the settings of a Server started by NewServer.
type ServerOptions struct {
	// Dir is the server's data directory (--dir); it must exist. Required.
	Dir string
	// AppendOnly keeps an append-only file fsynced on every write (--appendonly yes
	// --appendfsync always) instead of no persistence at all (--appendonly no): a Kill then
	// loses nothing the server acknowledged, and StartAgain loads it back.
	AppendOnly bool
	// LogDir, when set, sends the output of each run of the server to the files
	// LogDir/redis-N.stdout and .stderr, N counting the runs from 1 (Server.Proc().Logs());
	// a LogDir is for one server. Else the output is kept in memory for the errors.
	LogDir string
	// Args are appended to the command line (for example "--maxmemory", "10mb"); "{port}"
	// in them stands for the server's port.
	Args []string
	// StartTimeout bounds each start, until the server answers PING; default 10 s.
	StartTimeout time.Duration
}

// Server is one redis-server process on 127.0.0.1 (see the package documentation).
type Server struct {
	// Addr is host:port of the server; it does not change across Restart and StartAgain.
	Addr string

	t            TB // nil for a server of NewServer or of a Cluster made by NewCluster
	bin          string
	args         []string
	dir, logDir  string
	startTimeout time.Duration

	mu   sync.Mutex
	proc *Proc // the latest run, running or exited
	runs int
}

// Start starts a redis-server without persistence for t, with extraArgs appended to its
// command line (for example "--maxmemory", "10mb"), and returns once it answers PING. The
// server is killed at t's cleanup. Without a redis-server on PATH the test is skipped, or
// fails when the environment has CI=true.
func Start(t TB, extraArgs ...string) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	dir := t.TempDir() // created first so that it is removed after the process is gone
	s, err := startServer(context.Background(), bin, ServerOptions{Dir: dir, Args: extraArgs})
	if s != nil {
		s.t = t
		t.Cleanup(s.Kill)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return s
}

// NewServer is Start for a caller that is not a test (`offpush bench`, the chaos harness):
// it starts a redis-server with o and returns once it answers PING, or ErrNoRedis without a
// redis-server on PATH. The caller must Kill it. ctx ends the wait for PING.
func NewServer(ctx context.Context, o ServerOptions) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("testenv: ServerOptions.Dir is required")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoRedis, err)
	}
	s, err := startServer(ctx, bin, o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// lookPath finds a Redis binary; without it the test is skipped, or fails under CI=true.
func lookPath(t TB, name string) string {
	t.Helper()
	return LookPath(t, name, "a real Redis", "apt-get install -y redis-server, or brew install redis")
}

// startServer starts bin with o on a free port, trying another port when the start fails.
// On error the returned server, if not nil, has been killed.
func startServer(ctx context.Context, bin string, o ServerOptions) (*Server, error) {
	s := &Server{bin: bin, dir: o.Dir, logDir: o.LogDir, startTimeout: o.StartTimeout}
	if s.startTimeout <= 0 {
		s.startTimeout = startTimeout
	}
	persistence := []string{"--appendonly", "no"}
	if o.AppendOnly {
		persistence = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	for try := 1; ; try++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", o.Dir, "--save", ""},
			persistence...)
		s.args = append(s.args, "--daemonize", "no", "--logfile", "")
		s.args = append(s.args, expand(o.Args, port)...)
		err = s.start(ctx)
		if err == nil || ctx.Err() != nil {
			return s, err
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

// start launches a run of the process with s.args and waits for PING.
func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	s.runs++
	spec := ProcSpec{Name: "redis-" + strconv.Itoa(s.runs), Bin: s.bin, Args: s.args, LogDir: s.logDir,
		DieWithParent: true}
	s.mu.Unlock()
	var out *SyncBuffer
	if s.logDir == "" {
		out = &SyncBuffer{}
		spec.Stdout, spec.Stderr = out, out
	}
	p, err := StartProc(spec)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := waitPing(ctx, s.Addr, p, s.startTimeout); err != nil {
		s.Kill()
		logs := p.Logs()
		if out != nil {
			logs = out.String()
		}
		return fmt.Errorf("redis-server %s: %w\n%s", strings.Join(s.args, " "), err, logs)
	}
	return nil
}

// waitPing polls addr until it answers PING, the process exits, ctx ends or timeout passes.
func waitPing(ctx context.Context, addr string, p *Proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.Done():
			return errors.New("exited before answering PING")
		case <-ctx.Done():
			return fmt.Errorf("no PING answer: %w", ctx.Err())
		default:
		}
		if Ping(addr) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no PING answer within %v", timeout)
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
func (s *Server) Client(t TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// FlushAll deletes every key (and, with FLUSHALL, nothing else: loaded scripts stay).
func (s *Server) FlushAll(t TB) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("testenv: flushall: %v", err)
	}
}

// Stop shuts the server down with SIGTERM and waits for it (SIGKILL after a timeout).
// Without persistence all data is gone.
func (s *Server) Stop() {
	if p := s.Proc(); p != nil {
		p.Stop(stopTimeout)
	}
}

// Kill kills the server with SIGKILL and waits for it, as a crash would. It does nothing if the
// server is not running.
func (s *Server) Kill() {
	if p := s.Proc(); p != nil {
		p.Kill()
	}
}

// Restart stops the server and starts it again on the same port with the same arguments and
// data directory. Without persistence the new server is empty. Clients reconnect on their
// next command.
func (s *Server) Restart() {
	s.Stop()
	if err := s.StartAgain(); err != nil {
		if s.t == nil {
			panic(err)
		}
		s.t.Fatalf("testenv: restart: %v", err)
	}
}

// StartAgain starts a stopped or killed server on its port with its arguments and data
// directory and waits for PING: with ServerOptions.AppendOnly it has its data back (unless
// Wipe emptied the directory). A cluster node keeps its node id (its cluster config file
// survives) but no data.
func (s *Server) StartAgain() error {
	if s.Running() {
		return fmt.Errorf("redis-server on %s is running", s.Addr)
	}
	return s.start(context.Background())
}

// Wipe deletes everything in the data directory of a stopped or killed server: the next
// StartAgain is an empty Redis (a cluster node also forgets its cluster).
func (s *Server) Wipe() error {
	if s.Running() {
		return fmt.Errorf("redis-server on %s is running", s.Addr)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Running reports whether the server's process is running.
func (s *Server) Running() bool {
	p := s.Proc()
	return p != nil && p.Running()
}

// Proc is the server's latest process, running or exited (its Logs, with a LogDir).
func (s *Server) Proc() *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// CPU is the user+system CPU time the server's running process has used so far (ProcCPU).
func (s *Server) CPU() (time.Duration, error) {
	p := s.Proc()
	if p == nil || !p.Running() {
		return 0, fmt.Errorf("redis-server on %s is not running", s.Addr)
	}
	return p.CPU()
}
