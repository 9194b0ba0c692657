//go:build !linux

package testenv

import "syscall"

// dieWithParent is empty where Pdeathsig does not exist: the callers' cleanups, or the end of
// a child's stdin, stop the children.
func dieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
