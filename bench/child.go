package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"offpush/apnssim"
	"offpush/embedkafka"
	"offpush/internal/testenv"
)

// childEnv carries the childSpec (JSON) of a child started from a test binary, which has no
// `bench` verb to parse --child: its TestMain calls RunChild.
const childEnv = "OFFPUSH_BENCH_CHILD"

// Roles of a child process.
const (
	roleKafka   = "kafka"   // kfake; prints "kafka: listening on ADDR"
	roleSim     = "sim"     // apnssim.Command; prints "apns-sim: listening on URL"
	roleProduce = "produce" // publishes events; prints "produced N events" and exits
)

// childSpec is what a child process runs.
type childSpec struct {
	Role    string       `json:"role"`
	SimArgs []string     `json:"simArgs,omitempty"`
	Produce *produceSpec `json:"produce,omitempty"`
}

// RunChild runs a bench child and exits, instead of returning, when the current binary was
// started as one by a test of this package. Tests that run Command call it first in TestMain.
func RunChild() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := runChild(ctx, spec, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild runs the child of spec (JSON) until it is done or its stdin closes.
func runChild(ctx context.Context, spec string, stdin io.Reader, stdout, stderr io.Writer) error {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return fmt.Errorf("child spec: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	switch s.Role {
	case roleKafka:
		return serveKafka(ctx, stdout)
	case roleSim:
		return apnssim.Command(ctx, s.SimArgs, stdin, stdout, stderr)
	case roleProduce:
		if s.Produce == nil {
			return errors.New("produce child without a spec")
		}
		return produce(ctx, s.Produce, stdout)
	}
	return fmt.Errorf("unknown child role %q", s.Role)
}

// serveKafka runs kfake until ctx ends.
func serveKafka(ctx context.Context, stdout io.Writer) error {
	c, err := embedkafka.NewFake("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	defer c.Close()
	fmt.Fprintf(stdout, "kafka: listening on %s\n", strings.Join(c.Brokers, ","))
	<-ctx.Done()
	return nil
}

// proc is a bench child process, its stdout read line by line when no writer takes it.
type proc struct {
	*testenv.Proc
	out *bufio.Reader
}

// startChild re-executes the current binary as `bench --child SPEC` (with SPEC also in
// childEnv for test binaries), with a stdin pipe (closing it stops the child) and killed by
// the kernel if the bench dies. Its stdout goes to stdout, or, when nil, is read through
// readLine.
func startChild(s childSpec, stdout, stderr io.Writer) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start %s child: %w", s.Role, err)
	}
	spec, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	tp, err := testenv.StartProc(testenv.ProcSpec{Name: s.Role, Bin: exe, Args: []string{"bench", "--child", string(spec)},
		Env: append(os.Environ(), childEnv+"="+string(spec)), Stdout: stdout, Stderr: stderr,
		StdoutPipe: stdout == nil, StdinPipe: true, DieWithParent: true})
	if err != nil {
		return nil, err
	}
	p := &proc{Proc: tp}
	if stdout == nil {
		p.out = bufio.NewReader(tp.Stdout())
	}
	return p, nil
}

// readLine returns the next stdout line without its prefix, which it must have.
func (p *proc) readLine(prefix string) (string, error) {
	line, err := p.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s: read %q line: %w", p.Name, prefix, err)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
	if !ok {
		return "", fmt.Errorf("%s: unexpected line %q, want %q…", p.Name, line, prefix)
	}
	return rest, nil
}

// drain discards the rest of stdout so that the child never blocks writing it.
func (p *proc) drain() { go func() { _, _ = io.Copy(io.Discard, p.out) }() }

// cpu is the CPU time the process has used so far; 0 when unknown.
func (p *proc) cpu() time.Duration {
	if p == nil {
		return 0
	}
	d, _ := p.CPU()
	return d
}

// wait waits for the process to exit by itself.
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		return nil
	case <-ctx.Done():
		p.Kill()
		return ctx.Err()
	}
}

// stop closes stdin (a bench child then returns) and waits; it kills after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil {
		return
	}
	p.CloseStdin(grace)
}
