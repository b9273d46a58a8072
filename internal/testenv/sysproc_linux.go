package testenv

import "syscall"

// childSysProcAttr makes servers started for a test die with the test binary,
// even when it is killed or times out before its cleanups run.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
