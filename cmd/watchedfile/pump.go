package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

// cutMark ends a piece of a line longer than -max-line; the rest of the
// line follows on the next line of the file. A piece is maxLine bytes, the
// marker included (its newline not counted, as for any line).
const cutMark = " [watchedfile: line cut]\n"

// pump copies whole lines from a reader to a writer. One goroutine reads and
// queues complete lines; another writes everything queued with one Write, so
// a Write never holds part of a line. A disk slower than the input slows the
// input (maxBuffer bytes wait at most); a disk that fails never holds it up:
// while writes fail, whole lines past maxBuffer are dropped and counted.
type pump struct {
	dst       io.Writer
	tee       io.Writer // nil: no copy to stdout (or no more: it failed)
	maxLine   int
	maxBuffer int
	writeCap  int  // the most one Write holds (see writeMax)
	newSlices bool // the input blocks in read(2): see newSliceEvery
	rep       *reporter
	retryMin  time.Duration
	retryMax  time.Duration
	// drainFor bounds how long writes are retried after EOF.
	drainFor time.Duration

	mu      sync.Mutex
	cond    *sync.Cond // signalled when lines are queued or at EOF
	room    *sync.Cond // broadcast when the writer frees room or starts failing
	failing bool       // the last write failed
	queue   []byte     // complete lines waiting for the writer
	held    int        // bytes the writer took but has not written yet
	eof     bool
	dropped uint64 // lines dropped: the buffer was full while writes failed, or given up at the end
}

func newPump(dst io.Writer, maxLine, maxBuffer int, rep *reporter) *pump {
	p := &pump{dst: dst, maxLine: maxLine, maxBuffer: maxBuffer, writeCap: pipeSize, rep: rep,
		retryMin: 10 * time.Millisecond, retryMax: time.Second, drainFor: 10 * time.Second}
	p.cond = sync.NewCond(&p.mu)
	p.room = sync.NewCond(&p.mu)
	return p
}

// run reads r to EOF and returns when everything read is written or given
// up. It returns the read error (nil at EOF) joined with a write error if
// lines were lost at the end.
func (p *pump) run(r io.Reader) error {
	done := make(chan error, 1)
	go func() { done <- p.writeLoop() }()
	rerr := p.readLoop(r)
	p.mu.Lock()
	p.eof = true
	p.cond.Signal()
	p.mu.Unlock()
	return errors.Join(rerr, <-done)
}

// readLoop reads into buf and queues every complete line; a partial line
// stays at the start of buf until its end arrives or it reaches maxLine.
func (p *pump) readLoop(r io.Reader) error {
	// With room for one line of maxLine and its newline, no complete line
	// read can be too long, and enqueueCut need not look at each line.
	// As much as the input pipe holds (see growPipe): one read empties it.
	size := max(p.maxLine+1, pipeSize)
	buf := make([]byte, size)
	n := 0 // bytes of buf in use: an incomplete line
	slice := time.Now()
	for {
		if p.newSlices {
			if now := time.Now(); now.Sub(slice) >= newSliceEvery {
				runtime.Gosched()
				slice = now
			}
		}
		m, err := r.Read(buf[n:])
		n += m
		if m > 0 {
			n = p.queueLines(buf[:n])
		}
		if err != nil {
			if n > 0 { // an unterminated last line: write it with a newline
				p.enqueue(append(buf[:n:n], '\n'))
			}
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return errorf("read: %w", err)
		}
	}
}

// queueLines queues the complete lines in b, cutting lines longer than
// maxLine, moves the incomplete tail to the start of b and returns its length.
func (p *pump) queueLines(b []byte) int {
	start := 0
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		p.enqueueCut(b[:i+1])
		start = i + 1
	}
	for len(b)-start > p.maxLine { // an incomplete line already too long
		p.enqueue(append(append([]byte(nil), b[start:start+p.cutAt()]...), cutMark...))
		start += p.cutAt()
	}
	return copy(b, b[start:])
}

// newSliceEvery is how often a reader of a blocking input (stdin) starts a
// new scheduling slice (Gosched). Its read blocks in the kernel and never
// parks the goroutine, so to the runtime it runs on one slice for ever;
// after 10 ms the runtime's monitor (sysmon) takes its P during each read,
// goes to sleep, and must be woken when the read returns: a thread woken in
// the way of every line. A new slice this often keeps the P for lines less
// than 8 ms apart, while the process has another P idle (GOMAXPROCS >= 2);
// a read longer than 10 ms loses it anyway. The Gosched wakes an idle
// thread in turn, but after the line is written, not before.
const newSliceEvery = 2 * time.Millisecond

// enqueueCut queues lines (ending in '\n'), cutting any longer than maxLine.
func (p *pump) enqueueCut(lines []byte) {
	if !p.hasLongLine(lines) {
		for len(lines) > 0 {
			n := len(lines)
			if n > p.writeMax() {
				n = bytes.LastIndexByte(lines[:p.writeMax()], '\n') + 1
			}
			p.enqueue(lines[:n])
			lines = lines[n:]
		}
		return
	}
	var out []byte
	for len(lines) > 0 {
		j := bytes.IndexByte(lines, '\n')
		line := lines[:j+1]
		lines = lines[j+1:]
		for len(line) > p.maxLine+1 {
			out = append(append(out, line[:p.cutAt()]...), cutMark...)
			line = line[p.cutAt():]
		}
		out = append(out, line...)
	}
	p.enqueue(out)
}

// hasLongLine reports whether lines (ending in '\n') hold a line longer
// than maxLine. It looks at each window of maxLine+1 bytes from its end, so
// it reads about one line per window, not every byte.
func (p *pump) hasLongLine(lines []byte) bool {
	for len(lines) > p.maxLine+1 {
		i := bytes.LastIndexByte(lines[:p.maxLine+1], '\n')
		if i < 0 {
			return true
		}
		lines = lines[i+1:]
	}
	return false
}

// rotationWriteCap is writeCap when the command rotates the file itself:
// a write is never split across files, so a file can exceed -max-size by
// one write.
const rotationWriteCap = 64 << 10

// writeMax is the most one Write holds: whole lines, up to writeCap, or one
// line of maxLine.
func (p *pump) writeMax() int { return max(p.maxLine+1, p.writeCap) }

// cutAt is how many bytes of a too long line go into one cut piece.
func (p *pump) cutAt() int { return p.maxLine - (len(cutMark) - 1) }

// enqueue writes complete lines, then copies them to -tee's stdout. When
// nothing is waiting and the last write worked, it writes them itself, at
// once (no copy, no hand-over: as fast as cat, and a line is in the file as
// soon as it is read); otherwise it queues them for the writer goroutine.
func (p *pump) enqueue(lines []byte) {
	p.mu.Lock()
	if len(p.queue) > 0 || p.held > 0 || p.failing {
		p.queueLocked(lines)
		p.mu.Unlock()
		p.copyToTee(lines)
		return
	}
	p.held = len(lines) // keeps the writer goroutine off until this is done
	p.mu.Unlock()
	n, err := p.dst.Write(lines)
	p.mu.Lock()
	p.held = 0
	if err != nil {
		p.rep.report("write", "write failed, retrying (input still read, up to %d bytes kept): %s", p.maxBuffer, errText(err))
		p.failing = true
		p.queueLocked(lines[n:]) // the writer goroutine retries
	}
	p.mu.Unlock()
	p.copyToTee(lines)
}

// copyToTee copies lines to -tee's stdout, after the file: the copy is best
// effort. When it fails (its reader went away: EPIPE), the copy stops, and
// the command says so once and goes on writing the file.
func (p *pump) copyToTee(lines []byte) {
	if p.tee == nil {
		return
	}
	if _, err := p.tee.Write(lines); err != nil {
		p.tee = nil
		p.rep.always("-tee: %s: no more copies to stdout; the file still gets every line", errText(err))
	}
}

// queueLocked appends complete lines to the queue. While the writer is
// healthy and the queue is full it waits for room (a slower disk slows the
// input, as a pipe would); while writes fail it drops the whole lines that do
// not fit in maxBuffer, so that the input is never stalled by a broken disk.
func (p *pump) queueLocked(lines []byte) {
	for len(lines) > 0 {
		room := p.maxBuffer - len(p.queue) - p.held
		keep := len(lines)
		if keep > room {
			keep = bytes.LastIndexByte(lines[:max(room, 0)], '\n') + 1
		}
		if keep > 0 {
			p.queue = append(p.queue, lines[:keep]...)
			lines = lines[keep:]
			p.cond.Signal()
			continue
		}
		if p.failing {
			drop := uint64(bytes.Count(lines, []byte{'\n'}))
			p.dropped += drop
			p.rep.report("dropped", "buffer of %d bytes full: dropped %d lines (%d in all)", p.maxBuffer, drop, p.dropped)
			return
		}
		p.room.Wait()
	}
}

// writeLoop writes whatever is queued with one Write, retrying a failed
// write with backoff until it succeeds (or, after EOF, until drainFor).
func (p *pump) writeLoop() error {
	var spare []byte
	var eofAt time.Time
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.eof {
			p.cond.Wait()
		}
		if len(p.queue) == 0 {
			p.mu.Unlock()
			return nil
		}
		batch := p.queue
		whole := batch
		p.queue = spare[:0]
		p.held = len(batch)
		eof := p.eof
		p.mu.Unlock()
		if eof && eofAt.IsZero() {
			eofAt = time.Now()
		}

		wait := p.retryMin
		for len(batch) > 0 {
			n, err := p.dst.Write(batch)
			batch = batch[n:]
			p.mu.Lock()
			p.held = len(batch)
			p.failing = err != nil
			eof = p.eof
			p.room.Broadcast()
			p.mu.Unlock()
			if err == nil {
				continue
			}
			p.rep.report("write", "write failed, retrying (input still read, up to %d bytes kept): %s", p.maxBuffer, errText(err))
			if eof {
				if eofAt.IsZero() {
					eofAt = time.Now()
				}
				if time.Since(eofAt) > p.drainFor {
					return p.giveUp(batch, err)
				}
			}
			time.Sleep(wait)
			wait = min(2*wait, p.retryMax)
		}
		spare = whole[:0]
	}
}

// giveUp counts what could not be written at the end.
func (p *pump) giveUp(batch []byte, err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := uint64(bytes.Count(batch, []byte{'\n'}) + bytes.Count(p.queue, []byte{'\n'}))
	p.dropped += n
	p.held = 0
	p.queue = nil
	p.room.Broadcast()
	lines := "lines"
	if n == 1 {
		lines = "line"
	}
	return errorf("gave up writing %d %s at the end: %w", n, lines, unprefixed{err})
}

// unprefixed is err without the package's "watchedfile: " prefix, for a
// message that already has it; errors.Is and As still see err.
type unprefixed struct{ err error }

func (u unprefixed) Error() string { return errText(u.err) }
func (u unprefixed) Unwrap() error { return u.err }

// droppedLines reports how many lines the command dropped: while writes
// failed and the buffer was full, or given up at the end.
func (p *pump) droppedLines() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}
