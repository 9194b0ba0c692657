package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Proc is one child process. Its stdout and stderr go to files, kept for the secrets check
// and for reading when a scenario fails.
type Proc struct {
	Name       string
	StdoutPath string
	StderrPath string

	cmd  *exec.Cmd
	done chan struct{}
	code int // exit code once done; -1 when killed by a signal
}

// startProc starts bin with args and env (the whole environment of the child), logging to
// dir/name.stdout and dir/name.stderr.
func startProc(dir, name, bin string, args, env []string) (*Proc, error) {
	p := &Proc{
		Name:       name,
		StdoutPath: filepath.Join(dir, name+".stdout"),
		StderrPath: filepath.Join(dir, name+".stderr"),
		done:       make(chan struct{}),
	}
	stdout, err := os.Create(p.StdoutPath)
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(p.StderrPath)
	if err != nil {
		stdout.Close()
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, stdout, stderr
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		err := p.cmd.Wait()
		stdout.Close()
		stderr.Close()
		p.code = exitCode(err)
		close(p.done)
	}()
	return p, nil
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode() // -1 when a signal ended it
	default:
		return -1
	}
}

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process (nothing when it has exited).
func (p *Proc) Signal(sig syscall.Signal) {
	if p.Running() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// Wait waits up to d for the process to exit and returns its exit code; ok is false when it
// was still running at the deadline.
func (p *Proc) Wait(d time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.code, true
	case <-time.After(d):
		return 0, false
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *Proc) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Logs returns the process's stdout and stderr as written so far.
func (p *Proc) Logs() string {
	out, _ := os.ReadFile(p.StdoutPath)
	errOut, _ := os.ReadFile(p.StderrPath)
	return string(out) + string(errOut)
}
