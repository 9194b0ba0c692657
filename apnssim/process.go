package apnssim

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"offpush/internal/testenv"
)

// childEnv holds the JSON-encoded Command arguments of a simulator started by StartProcess.
const childEnv = "OFFPUSH_APNSTEST_CHILD"

// RunChild runs the simulator and exits, instead of returning, when the current binary was
// started by StartProcess. Benchmarks that measure the simulator's CPU apart from the client's
// call it first thing in TestMain. The child stops when its stdin closes.
func RunChild() {
	env := os.Getenv(childEnv)
	if env == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(env), &args); err != nil {
		fmt.Fprintf(os.Stderr, "apns-sim child: %s: %v\n", childEnv, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	if err := Command(ctx, args, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "apns-sim child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Process is a simulator running in a child process (the current binary re-executed, see
// RunChild), so that its CPU time can be measured apart from its clients'.
type Process struct {
	URL   string
	CAPEM []byte

	proc *testenv.Proc
}

// StartProcess re-executes the current binary as `apns-sim` with args (Command's flags; it
// adds --addr 127.0.0.1:0 --quiet --ca-out) and waits until it listens.
func StartProcess(args ...string) (*Process, error) {
	dir, err := os.MkdirTemp("", "apns-sim")
	if err != nil {
		return nil, fmt.Errorf("start simulator process: %w", err)
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	args = append([]string{"--addr", "127.0.0.1:0", "--quiet", "--ca-out", caFile}, args...)
	enc, _ := json.Marshal(args)
	proc, err := testenv.StartProc(testenv.ProcSpec{Name: "simulator process", Bin: os.Args[0],
		Env: append(os.Environ(), childEnv+"="+string(enc)), Stderr: os.Stderr, StdinPipe: true, StdoutPipe: true})
	if err != nil {
		return nil, err // "start simulator process: …"
	}
	p := &Process{proc: proc}
	if err := p.awaitListening(proc.Stdout(), caFile); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Process) awaitListening(out io.Reader, caFile string) error {
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("simulator process: read listen line: %w", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "apns-sim: listening on ")
	if !ok {
		return fmt.Errorf("simulator process: unexpected first line %q", line)
	}
	p.URL = url
	if p.CAPEM, err = os.ReadFile(caFile); err != nil {
		return fmt.Errorf("simulator process: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return nil
}

// CertPool trusts the simulator's TLS certificate.
func (p *Process) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CAPEM)
	return pool
}

// CPUTime is the user+system CPU time the process has used so far. Linux only (/proc).
func (p *Process) CPUTime() (time.Duration, error) {
	d, err := p.proc.CPU()
	if err != nil {
		return 0, fmt.Errorf("simulator CPU time: %w", err)
	}
	return d, nil
}

// Close stops the process (by closing its stdin) and waits for it.
func (p *Process) Close() error {
	if !p.proc.CloseStdin(10 * time.Second) {
		return errors.New("simulator process did not stop; killed")
	}
	return p.proc.Err()
}
