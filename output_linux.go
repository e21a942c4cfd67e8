package watchedfile

import (
	"errors"
	"io/fs"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux the Writer writes a file's descriptor itself, under the write
// lock, instead of through os.File, whose own lock would be a second one on
// every write. The lock also keeps the descriptor open: a switch closes a
// file only while holding it. A pipe, FIFO, socket or terminal, which the
// runtime poller takes, is written through os.File, whose deadline lets
// Close cut a write that hangs (see Writer.Close); a file the poller does
// not take (a regular file, /dev/null) has no deadline to set, and is
// written directly.

// iovMax is the most buffers one writev(2) takes (IOV_MAX).
const iovMax = 1024

// iovecs is the Writer's buffer of iovecs for writev(2), allocated once.
type iovecs *[iovMax]unix.Iovec

// directFd returns the descriptor to write f with directly, or -1 for a
// file under the runtime poller (a pipe, FIFO, socket or terminal).
func directFd(f *os.File, info fs.FileInfo) int {
	if !info.Mode().IsRegular() && !errors.Is(f.SetWriteDeadline(time.Time{}), os.ErrNoDeadline) {
		return -1
	}
	return int(f.Fd()) // blocking, as a descriptor outside the poller should be
}

// write writes p, completing a write the kernel cut short (at a full disk,
// the next write fails and says why), and counts what it wrote.
func (o *output) write(p []byte) (int, error) {
	if o.fd < 0 {
		n, err := o.f.Write(p)
		o.written += uint64(n)
		return n, err
	}
	n := 0
	for {
		m, err := unix.Write(o.fd, p[n:])
		if m > 0 {
			n += m
		}
		switch {
		case err == unix.EINTR:
		case err != nil:
			o.written += uint64(n)
			return n, err
		case n == len(p):
			o.written += uint64(n)
			return n, nil
		}
	}
}

// writev writes the records of ws with one writev(2), completing a write
// the kernel cut short, and returns and counts the bytes written.
func (o *output) writev(ws []*waiter) (n int, err error) {
	defer func() { o.written += uint64(n) }()
	if o.fd < 0 {
		return o.writeEach(ws)
	}
	if o.iov == nil {
		o.iov = new([iovMax]unix.Iovec)
	}
	iov := o.iov[:len(ws)]
	total := 0
	for i, wt := range ws {
		iov[i] = unix.Iovec{}
		if len(wt.p) > 0 {
			iov[i].Base = &wt.p[0]
			iov[i].SetLen(len(wt.p))
		}
		total += len(wt.p)
	}
	defer clear(iov) // drop the records for the garbage collector
	for n < total {
		m, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(o.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return n, errno
		}
		n += int(m)
		iov = advance(iov, int(m))
	}
	return n, nil
}

// advance drops the first m bytes from iov.
func advance(iov []unix.Iovec, m int) []unix.Iovec {
	for len(iov) > 0 && m >= int(iov[0].Len) {
		m -= int(iov[0].Len)
		iov = iov[1:]
	}
	if len(iov) > 0 && m > 0 {
		iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(iov[0].Base), m))
		iov[0].SetLen(int(iov[0].Len) - m)
	}
	return iov
}
