package e2e_test

import "syscall"

// procAttr makes the kernel kill a service process when the test process
// dies (a timeout's panic, a Ctrl-C), so none is left running.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
