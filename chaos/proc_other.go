//go:build !linux

package chaos

import "syscall"

// childAttr is empty where Pdeathsig does not exist; the tests' cleanups kill the children.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
