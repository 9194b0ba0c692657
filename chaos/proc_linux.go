package chaos

import "syscall"

// childAttr makes the kernel kill a child when the harness dies, so no worker, simulator or
// redis-server outlives a crashed test run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
