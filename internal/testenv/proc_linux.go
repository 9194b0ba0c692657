package testenv

import "syscall"

// dieWithParent makes the kernel kill a child with SIGKILL when this process dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
