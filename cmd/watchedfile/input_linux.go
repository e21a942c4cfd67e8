package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity asked for the input pipe (F_SETPIPE_SZ), the
// most an unprivileged process gets by default (/proc/sys/fs/pipe-max-size).
// Against the default 64 KiB, the service writes more before it waits for
// the command, and each read brings more lines: fewer wake-ups on both
// sides, which is most of what piping through the command cost over cat.
const pipeSize = 1 << 20

// growPipe asks for a pipe of pipeSize; a refusal (not a pipe, the user's
// pipe quota used up) leaves it as it was. Through SyscallConn: Fd would
// make a pollable f blocking.
func growPipe(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
	}
}
