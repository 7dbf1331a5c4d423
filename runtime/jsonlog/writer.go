package jsonlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// MaxLineSize is the longest piece of a line one entry carries. Longer lines
// are split into entries of this size without "\n", exactly where Docker's
// copier (16 KiB buffer) splits them.
const MaxLineSize = 16 * 1024

// fileMode is Docker's mode for json-file logs: the log may hold secrets the
// workload prints, so other users get nothing.
const fileMode = 0o640

// Writer appends entries to a json-file log and rotates it. It is safe for
// concurrent use: the stdout and stderr streams of one container write
// through one Writer, and whole entries never interleave.
type Writer struct {
	path string
	opts Options

	mu      sync.Mutex
	f       *os.File // nil after a failed rotation or Close
	size    int64    // bytes in the current file, for rotation
	closed  bool
	buf     []byte // encoding scratch, reused under mu
	streams map[string]*stream
	order   []*stream // creation order, so Flush writes deterministically
}

// NewWriter opens (appending) or creates the log at path.
func NewWriter(path string, o Options) (*Writer, error) {
	o, err := o.validate()
	if err != nil {
		return nil, fmt.Errorf("jsonlog: new writer %s: %w", path, err)
	}
	w := &Writer{path: path, opts: o, streams: map[string]*stream{}}
	if err := w.open(os.O_RDWR | os.O_APPEND | os.O_CREATE); err != nil {
		return nil, err
	}
	if err := w.repairTail(); err != nil {
		_ = w.f.Close()
		return nil, err
	}
	return w, nil
}

func (w *Writer) open(flags int) error {
	f, err := os.OpenFile(w.path, flags, fileMode)
	if err != nil {
		return fmt.Errorf("jsonlog: open %s: %w", w.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("jsonlog: stat %s: %w", w.path, err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// repairTail ends a torn last entry (a previous monitor died mid-write) with
// "\n", so that only that one line is corrupt instead of it swallowing the
// first entry this writer appends.
func (w *Writer) repairTail() error {
	if w.size == 0 {
		return nil
	}
	var last [1]byte
	if _, err := w.f.ReadAt(last[:], w.size-1); err != nil {
		return fmt.Errorf("jsonlog: read end of %s: %w", w.path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	n, err := w.f.Write([]byte{'\n'})
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("jsonlog: repair end of %s: %w", w.path, err)
	}
	return nil
}

// Stream returns the writer for one stream, "stdout" or "stderr" (any
// non-empty name is accepted and recorded as given). Calling it again with
// the same name returns the same writer. Bytes are cut into lines; an
// incomplete last line waits for more bytes, Flush or Close.
//
// An error from Write means an entry could not be written (disk full, a
// failed rotation); the bytes are consumed anyway, so a caller draining a
// container's pipe should report the error and keep draining.
func (w *Writer) Stream(name string) io.Writer {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.streams[name]; ok {
		return s
	}
	s := &stream{w: w, name: name}
	w.streams[name] = s
	w.order = append(w.order, s)
	return s
}

// Flush writes every stream's incomplete line as a partial entry (no "\n").
// The line continues in the next entry, with the time of its first piece.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("jsonlog: flush %s: %w", w.path, os.ErrClosed)
	}
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	var errs []error
	for _, s := range w.order {
		if len(s.pending) == 0 {
			continue
		}
		if err := s.emit(s.pending, false); err != nil {
			errs = append(errs, err)
		}
		s.pending = s.pending[:0]
	}
	return errors.Join(errs...)
}

// Close flushes incomplete lines and closes the file. Later writes fail.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	err := w.flushLocked()
	for _, s := range w.order {
		// The stream ended: a line cut by Close is over, as at Docker's EOF.
		s.partial = false
	}
	w.closed = true
	if w.f != nil {
		if cerr := w.f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("jsonlog: close %s: %w", w.path, cerr))
		}
		w.f = nil
	}
	return err
}

// writeEntry encodes and appends one entry. Called with w.mu held.
func (w *Writer) writeEntry(name string, log []byte, t time.Time) error {
	if w.closed {
		return fmt.Errorf("jsonlog: write %s: %w", w.path, os.ErrClosed)
	}
	// Docker rotates before a write once the file has reached max-size, so
	// a file ends up at most one entry over the limit; same here, so sizes
	// and file counts match what users know from Docker.
	if w.f == nil || (w.opts.MaxSize > 0 && w.size >= w.opts.MaxSize) {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	w.buf = appendEntry(w.buf[:0], log, name, t)
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("jsonlog: write %s: %w", w.path, err)
	}
	return nil
}

// rotate shifts path.(i-1) to path.i, drops the oldest, moves the current
// file to path.1 and starts an empty one. Renaming (not truncating) keeps
// readers that hold the old file working. With MaxFile 1 the current file
// is unlinked and recreated for the same reason. Also used to reopen after a
// failed rotation (w.f == nil) without rotating again.
func (w *Writer) rotate() error {
	if w.f != nil {
		err := w.f.Close()
		w.f = nil
		if err != nil {
			return fmt.Errorf("jsonlog: rotate %s: close: %w", w.path, err)
		}
		if err := w.shift(); err != nil {
			return err
		}
	}
	// O_TRUNC in case the rename above did not happen.
	return w.open(os.O_RDWR | os.O_APPEND | os.O_CREATE | os.O_TRUNC)
}

func (w *Writer) shift() error {
	n := w.opts.MaxFile
	if n < 2 {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("jsonlog: rotate %s: %w", w.path, err)
		}
		return nil
	}
	oldest := w.path + "." + strconv.Itoa(n-1)
	if err := os.Remove(oldest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("jsonlog: rotate %s: drop oldest: %w", w.path, err)
	}
	for i := n - 1; i > 1; i-- {
		from, to := w.path+"."+strconv.Itoa(i-1), w.path+"."+strconv.Itoa(i)
		if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("jsonlog: rotate %s: %w", w.path, err)
		}
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("jsonlog: rotate %s: %w", w.path, err)
	}
	return nil
}

// stream cuts one stream's bytes into entries. Its fields are guarded by
// the Writer's mutex.
type stream struct {
	w       *Writer
	name    string
	pending []byte    // bytes of the current line not yet written
	partial bool      // pieces of the current line were already written
	first   time.Time // time of the current line's first piece
}

func (s *stream) Write(p []byte) (int, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("jsonlog: write %s: %w", w.path, os.ErrClosed)
	}
	s.pending = append(s.pending, p...)
	var errs []error
	done := 0
	for {
		rest := s.pending[done:]
		i := bytes.IndexByte(rest, '\n')
		if i >= 0 && i < MaxLineSize {
			if err := s.emit(rest[:i+1], true); err != nil {
				errs = append(errs, err)
			}
			done += i + 1
			continue
		}
		// Docker's copier holds 16 KiB: once that much is buffered with no
		// newline in it, it goes out as a partial entry.
		if len(rest) >= MaxLineSize {
			if err := s.emit(rest[:MaxLineSize], false); err != nil {
				errs = append(errs, err)
			}
			done += MaxLineSize
			continue
		}
		break
	}
	s.pending = append(s.pending[:0], s.pending[done:]...)
	return len(p), errors.Join(errs...)
}

// emit writes one piece of the current line; end says it finishes the line.
func (s *stream) emit(b []byte, end bool) error {
	t := s.first
	if !s.partial {
		t = s.w.opts.Now()
	}
	if end {
		s.partial = false
	} else if !s.partial {
		s.partial, s.first = true, t
	}
	return s.w.writeEntry(s.name, b, t)
}
