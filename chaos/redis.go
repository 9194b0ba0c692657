package chaos

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"offpush/internal/testenv"
)

// Redis is a redis-server child process with an append-only file fsynced on every write, so
// that a SIGKILL loses nothing acknowledged and Start brings the data back; Wipe starts it
// empty instead. The address does not change across restarts.
type Redis struct {
	Addr string
	dir  string // data directory (the append-only file)
	logs string // where each run's stdout/stderr go
	bin  string
	runs int
	proc *Proc
}

// startRedis starts a redis-server on a free port with its data in dataDir.
func startRedis(dataDir, logDir string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on PATH (apt-get install -y redis-server): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dataDir, logs: logDir, bin: bin}
	return r, r.Start()
}

// Start starts the server again on its address, loading its append-only file.
func (r *Redis) Start() error {
	_, port, _ := net.SplitHostPort(r.Addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--dir", r.dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no", "--logfile", ""}
	r.runs++
	p, err := startProc(r.logs, "redis-"+strconv.Itoa(r.runs), r.bin, args, os.Environ())
	if err != nil {
		return err
	}
	r.proc = p
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if !p.Running() {
			return fmt.Errorf("redis-server exited at start:\n%s", p.Logs())
		}
		if testenv.Ping(r.Addr) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s does not answer PING", r.Addr)
}

// Kill kills the server with SIGKILL, as a crash would.
func (r *Redis) Kill() {
	if r.proc != nil {
		r.proc.Kill()
	}
}

// Wipe deletes the server's data: the next Start is an empty Redis.
func (r *Redis) Wipe() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// freePort asks the kernel for a port that is free right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
