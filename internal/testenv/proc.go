package testenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// ProcSpec is a child process for StartProc.
type ProcSpec struct {
	Name string   // in errors, and the name of the log files
	Bin  string   // the executable
	Args []string // its arguments, without the executable
	Env  []string // the child's whole environment; nil: this process's

	// LogDir, when set, sends stdout and stderr to the files LogDir/Name.stdout and
	// LogDir/Name.stderr (Proc.StdoutPath and StderrPath, read by Proc.Logs); Stdout and
	// Stderr are then not used.
	LogDir string
	// Stdout and Stderr receive the child's output without LogDir; nil discards it. A
	// writer read while the child runs must be safe for that, as SyncBuffer is.
	Stdout, Stderr io.Writer
	// StdoutPipe makes stdout a pipe read through Proc.Stdout (LogDir and Stdout unset).
	StdoutPipe bool
	// StdinPipe gives the child a stdin pipe, closed by CloseStdin: a child that reads it to
	// the end stops when it closes, and also when this process dies.
	StdinPipe bool
	// DieWithParent makes the kernel kill the child with SIGKILL when this process dies, on
	// Linux (elsewhere it does nothing), so that no child outlives a crashed test or bench.
	DieWithParent bool
}

// Proc is a running or exited child process started by StartProc.
type Proc struct {
	Name       string
	StdoutPath string // with ProcSpec.LogDir, else ""
	StderrPath string

	cmd    *exec.Cmd
	stdin  io.Closer // with ProcSpec.StdinPipe
	stdout io.Reader // with ProcSpec.StdoutPipe
	done   chan struct{}
	err    error // what cmd.Wait returned, once done is closed
	code   int   // the exit code once done; -1 when a signal ended it
}

// StartProc starts the child process of s. The process is reaped as soon as it exits; Done,
// Running and Wait tell when.
func StartProc(s ProcSpec) (*Proc, error) {
	p := &Proc{Name: s.Name, done: make(chan struct{}), code: -1}
	cmd := exec.Command(s.Bin, s.Args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = s.Env, s.Stdout, s.Stderr
	var files []*os.File
	closeFiles := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	if s.LogDir != "" {
		p.StdoutPath = filepath.Join(s.LogDir, s.Name+".stdout")
		p.StderrPath = filepath.Join(s.LogDir, s.Name+".stderr")
		for _, path := range []string{p.StdoutPath, p.StderrPath} {
			f, err := os.Create(path)
			if err != nil {
				closeFiles()
				return nil, err
			}
			files = append(files, f)
		}
		cmd.Stdout, cmd.Stderr = files[0], files[1]
	}
	var err error
	if s.StdinPipe {
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			closeFiles()
			return nil, fmt.Errorf("start %s: %w", s.Name, err)
		}
	}
	if s.StdoutPipe {
		if p.stdout, err = cmd.StdoutPipe(); err != nil {
			closeFiles()
			return nil, fmt.Errorf("start %s: %w", s.Name, err)
		}
	}
	if s.DieWithParent {
		cmd.SysProcAttr = dieWithParent()
	}
	if err := cmd.Start(); err != nil {
		closeFiles()
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p.cmd = cmd
	go func() {
		err := cmd.Wait()
		closeFiles()
		p.err, p.code = err, exitCode(err)
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

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stdout is the read end of the stdout pipe of a ProcSpec.StdoutPipe process, else nil. It
// is closed once the process has exited: read it to the end while it runs (or the child
// blocks writing).
func (p *Proc) Stdout() io.Reader { return p.stdout }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Wait waits up to d for the process to exit and returns its exit code (-1 when a signal
// ended it); ok is false when it was still running at the deadline.
func (p *Proc) Wait(d time.Duration) (code int, ok bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return p.code, true
	case <-t.C:
		return 0, false
	}
}

// ExitCode is the exit code of an exited process, -1 when a signal ended it or while it runs.
func (p *Proc) ExitCode() int {
	if p.Running() {
		return -1
	}
	return p.code
}

// Err is the exit status of an exited process as exec.Cmd.Wait returns it: nil for exit code
// 0, else an *exec.ExitError. It is nil while the process runs.
func (p *Proc) Err() error {
	if p.Running() {
		return nil
	}
	return p.err
}

// Signal sends sig to the process (nothing when it has exited).
func (p *Proc) Signal(sig os.Signal) {
	if p.Running() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it. It does nothing
// when the process has exited.
func (p *Proc) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to grace for the process to exit, then kills it with
// SIGKILL; it reports whether the process exited within grace.
func (p *Proc) Stop(grace time.Duration) bool {
	p.Signal(syscall.SIGTERM)
	return p.waitOrKill(grace)
}

// CloseStdin closes the stdin pipe of a ProcSpec.StdinPipe process (a child that reads it to
// the end then stops) and waits up to grace for it to exit, then kills it with SIGKILL; it
// reports whether the process exited within grace.
func (p *Proc) CloseStdin(grace time.Duration) bool {
	if p.stdin != nil {
		_ = p.stdin.Close()
	}
	return p.waitOrKill(grace)
}

func (p *Proc) waitOrKill(grace time.Duration) bool {
	if _, ok := p.Wait(grace); ok {
		return true
	}
	p.Kill()
	return false
}

// Logs returns the stdout and stderr files of a ProcSpec.LogDir process as written so far,
// stdout first; "" without LogDir.
func (p *Proc) Logs() string {
	if p.StdoutPath == "" {
		return ""
	}
	out, _ := os.ReadFile(p.StdoutPath)
	errOut, _ := os.ReadFile(p.StderrPath)
	return string(out) + string(errOut)
}

// CPU is the user+system CPU time the process has used so far (ProcCPU).
func (p *Proc) CPU() (time.Duration, error) { return ProcCPU(p.Pid()) }
