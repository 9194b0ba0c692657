package testenv_test

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"offpush/internal/testenv"
)

func shell(t *testing.T) string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	return sh
}

// TestProcLogsAndExitCode: stdout and stderr go to LogDir/Name.*, the exit code is kept.
func TestProcLogsAndExitCode(t *testing.T) {
	dir := t.TempDir()
	p, err := testenv.StartProc(testenv.ProcSpec{Name: "child", Bin: shell(t),
		Args: []string{"-c", "echo out; echo err >&2; echo $X; exit 3"}, Env: []string{"X=from-env"}, LogDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	code, ok := p.Wait(10 * time.Second)
	if !ok || code != 3 || p.ExitCode() != 3 || p.Err() == nil {
		t.Fatalf("Wait = %d, %v; ExitCode %d, Err %v; want 3", code, ok, p.ExitCode(), p.Err())
	}
	if p.Running() {
		t.Fatal("Running after exit")
	}
	if got := p.Logs(); got != "out\nfrom-env\nerr\n" {
		t.Fatalf("Logs = %q", got)
	}
	if p.StdoutPath != dir+"/child.stdout" || p.StderrPath != dir+"/child.stderr" {
		t.Fatalf("paths %s %s", p.StdoutPath, p.StderrPath)
	}
}

// TestProcStopKill: Stop ends a process that exits on SIGTERM within the grace; one that
// ignores SIGTERM is killed after it; Kill of an exited process does nothing.
func TestProcStopKill(t *testing.T) {
	sh := shell(t)
	var out testenv.SyncBuffer
	p, err := testenv.StartProc(testenv.ProcSpec{Name: "sleeper", Bin: sh, Args: []string{"-c", "echo up; exec sleep 60"},
		Stdout: &out, DieWithParent: true})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); out.String() == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no output")
		}
	}
	if !p.Running() {
		t.Fatal("not running")
	}
	if !p.Stop(10 * time.Second) {
		t.Fatal("sleep did not stop on SIGTERM")
	}
	if p.ExitCode() != -1 {
		t.Fatalf("ExitCode after SIGTERM = %d, want -1", p.ExitCode())
	}
	p.Kill() // no-op
	if out.String() != "up\n" {
		t.Fatalf("stdout %q", out.String())
	}

	p, err = testenv.StartProc(testenv.ProcSpec{Name: "stubborn", Bin: sh,
		Args: []string{"-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, StdoutPipe: true})
	if err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(p.Stdout()).ReadString('\n'); line != "ready\n" {
		t.Fatalf("first line %q", line)
	}
	start := time.Now()
	if p.Stop(300 * time.Millisecond) {
		t.Fatal("a process ignoring SIGTERM reported stopped")
	}
	if p.Running() || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("running %v after %v", p.Running(), time.Since(start))
	}
}

// TestProcCloseStdin: a child reading its stdin to the end exits when CloseStdin closes it.
func TestProcCloseStdin(t *testing.T) {
	p, err := testenv.StartProc(testenv.ProcSpec{Name: "cat", Bin: shell(t), Args: []string{"-c", "cat >/dev/null"},
		StdinPipe: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.CloseStdin(10 * time.Second) {
		t.Fatal("cat did not exit when its stdin closed")
	}
	if p.ExitCode() != 0 || p.Err() != nil {
		t.Fatalf("exit %d, %v", p.ExitCode(), p.Err())
	}
}

func TestStartProcError(t *testing.T) {
	_, err := testenv.StartProc(testenv.ProcSpec{Name: "missing", Bin: "/nonexistent/binary"})
	if err == nil || !strings.HasPrefix(err.Error(), "start missing: ") {
		t.Fatalf("err = %v", err)
	}
}

// TestProcCPU: a busy child's CPU time grows (Linux only).
func TestProcCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	p, err := testenv.StartProc(testenv.ProcSpec{Name: "busy", Bin: shell(t), Args: []string{"-c", "while :; do :; done"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := p.CPU()
		if err != nil {
			t.Fatal(err)
		}
		if d >= 50*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time %v after 10 s of a busy loop", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d, err := testenv.ProcCPU(os.Getpid()); err != nil || d < 0 {
		t.Fatalf("ProcCPU(self) = %v, %v", d, err)
	}
}

// TestNoTestingImport: the production binary uses this package (bench, apns-sim), so it must
// not pull in package testing.
func TestNoTestingImport(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "offpush/internal/testenv").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "testing" {
			t.Fatal("offpush/internal/testenv depends on package testing")
		}
	}
}
