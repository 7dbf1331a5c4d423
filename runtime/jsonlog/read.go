package jsonlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// ReadOptions selects what Read delivers, with `docker logs` semantics.
type ReadOptions struct {
	// Tail is the number of lines to show from the end, across rotated
	// files; negative means all. 0 shows none, as `docker logs --tail 0`
	// (so with Follow only new entries arrive). Corrupt lines count, since
	// Docker counts lines, not entries.
	Tail int
	// Since drops entries older than it; Until stops at the first entry
	// newer than it (and ends a follow once the clock passes it). Zero
	// values mean no bound. Tail is applied first, as in Docker.
	Since, Until time.Time
	// Follow keeps delivering entries as they are appended, across
	// rotations, until ctx is done.
	Follow bool
	// MaxFile is the writer's MaxFile: rotated files path.1 .. path.(MaxFile-1)
	// are read. 0 means probe path.1, path.2, ... until one is missing.
	MaxFile int
}

// Entry is one decoded log entry.
type Entry struct {
	Stream string
	Time   time.Time
	Log    []byte
	// Partial is set for a piece of a line that continues in a later entry
	// (the log does not end in "\n").
	Partial bool
}

// ErrCorrupt marks a read that skipped lines that are not valid entries.
var ErrCorrupt = errors.New("corrupt log lines skipped")

// pollInterval is how often a follow looks for new data and rotations.
const pollInterval = 150 * time.Millisecond

// maxLine bounds the bytes of one file line kept in memory. A valid entry is
// at most about 100 KiB (16 KiB of log, each byte escaped to at most 6); a
// longer line can only be garbage, such as a run of NULs left by a crash.
const maxLine = 1 << 20

// Read delivers the entries of the json-file log at path to out, rotated
// files first (oldest to newest), then the current file; with Follow it then
// waits for new entries until ctx is done, and returns nil then. An error
// from out stops Read and is returned as is.
//
// A line that is not a valid entry is skipped, and Read carries on.
// Docker's `docker logs` stops at the first corrupt line with "Error grabbing
// logs", which makes every later line unreadable after a crash or a full disk
// (moby/moby#29511, docker/for-linux#140); berth shows all it can, then
// still fails: the returned error wraps ErrCorrupt and counts the skipped
// lines. Leading NUL bytes (what a crash leaves) are dropped before decoding,
// so the entry after them survives. The current file's last line without
// "\n" is being written: it is not delivered until complete.
//
// A follower that falls more than MaxFile-1 rotations behind loses the files
// dropped meanwhile, as in Docker.
func Read(ctx context.Context, path string, o ReadOptions, out func(Entry) error) error {
	r := &reader{path: path, opts: o, out: out}
	err := r.run(ctx)
	if o.Follow && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil // the way a follow ends
	}
	if err == nil && r.corrupt > 0 {
		err = fmt.Errorf("jsonlog: read %s: %d line(s), first in %s at offset %d: %w",
			path, r.corrupt, r.firstBad, r.firstBadOff, ErrCorrupt)
	}
	return err
}

type reader struct {
	path string
	opts ReadOptions
	out  func(Entry) error

	corrupt     int
	firstBad    string
	firstBadOff int64
	stop        bool // Until reached
}

// source is one file to read from offset start; size is how much of it the
// snapshot covers.
type source struct {
	name  string
	f     *os.File
	info  os.FileInfo
	size  int64
	start int64
}

func (r *reader) run(ctx context.Context) error {
	srcs, err := r.snapshot()
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range srcs {
			if s.f != nil {
				_ = s.f.Close()
			}
		}
	}()
	if err := r.applyTail(srcs); err != nil {
		return err
	}
	var cur *lineReader
	for i, s := range srcs {
		last := i == len(srcs)-1
		lr := &lineReader{f: s.f, name: s.name, off: s.start, limit: s.size}
		if err := r.drain(ctx, lr, !last); err != nil || r.stop {
			return err
		}
		if last {
			cur = lr
		}
	}
	if !r.opts.Follow || cur == nil {
		return nil
	}
	cur.limit = -1
	return r.follow(ctx, cur, srcs[len(srcs)-1])
}

// snapshot opens the rotated files (oldest first) and the current file, and
// checks that no rotation moved the names while it opened them, so that no
// file is read twice or skipped. The writer is another process, so there is
// no lock to take; retrying is enough since rotations are rare.
func (r *reader) snapshot() ([]*source, error) {
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		srcs, err := r.openAll()
		if err != nil {
			return nil, err
		}
		stable := true
		for _, s := range srcs {
			st, err := os.Stat(s.name)
			if err != nil || !os.SameFile(st, s.info) {
				stable = false
				break
			}
		}
		if stable {
			return srcs, nil
		}
		for _, s := range srcs {
			_ = s.f.Close()
		}
		lastErr = errors.New("log files kept rotating while being opened")
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("jsonlog: read %s: %w", r.path, lastErr)
}

func (r *reader) openAll() ([]*source, error) {
	var names []string
	if r.opts.MaxFile > 0 {
		for i := r.opts.MaxFile - 1; i >= 1; i-- {
			names = append(names, r.path+"."+strconv.Itoa(i))
		}
	} else {
		for i := 1; ; i++ {
			name := r.path + "." + strconv.Itoa(i)
			if _, err := os.Lstat(name); err != nil {
				break
			}
			names = append([]string{name}, names...)
		}
	}
	names = append(names, r.path)
	var srcs []*source
	fail := func(err error) ([]*source, error) {
		for _, s := range srcs {
			_ = s.f.Close()
		}
		return nil, fmt.Errorf("jsonlog: read %s: %w", r.path, err)
	}
	for i, name := range names {
		f, err := os.Open(name)
		if err != nil {
			// A rotated file may be missing (never written, or dropped
			// meanwhile); the current file must exist.
			if errors.Is(err, fs.ErrNotExist) && i < len(names)-1 {
				continue
			}
			return fail(err)
		}
		st, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return fail(err)
		}
		srcs = append(srcs, &source{name: name, f: f, info: st, size: st.Size()})
	}
	return srcs, nil
}

// applyTail sets the start offsets so that only the last Tail lines, across
// files, are read. Files not needed are closed and dropped, except the
// current one, which a follow continues from.
func (r *reader) applyTail(srcs []*source) error {
	n := r.opts.Tail
	if n < 0 {
		return nil
	}
	for i := len(srcs) - 1; i >= 0; i-- {
		s := srcs[i]
		if n == 0 {
			s.start = s.size
			continue
		}
		off, found, err := tailOffset(s.f, s.size, n)
		if err != nil {
			return fmt.Errorf("jsonlog: tail %s: %w", s.name, err)
		}
		s.start = off
		n -= found
	}
	return nil
}

// tailOffset finds where the last n complete lines of f[0:size] start,
// reading backwards, and how many lines there are (up to n). Bytes after the
// last "\n" are an entry being written and do not count.
func tailOffset(f io.ReaderAt, size int64, n int) (int64, int, error) {
	const chunk = 32 * 1024
	buf := make([]byte, chunk)
	newlines := 0
	pos := size
	for pos > 0 {
		m := int64(chunk)
		if pos < m {
			m = pos
		}
		pos -= m
		if _, err := f.ReadAt(buf[:m], pos); err != nil {
			return 0, 0, err
		}
		for i := m - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			newlines++
			// The first newline ends the last line; the (n+1)th ends the
			// line before the n we want.
			if newlines == n+1 {
				return pos + i + 1, n, nil
			}
		}
	}
	return 0, newlines, nil
}

// drain delivers every complete line lr has. For a rotated file (whole) a
// trailing piece without "\n" can never complete, so it is corrupt.
func (r *reader) drain(ctx context.Context, lr *lineReader, whole bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, off, ok, err := lr.next(r)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := r.deliver(line, lr.name, off); err != nil || r.stop {
			return err
		}
	}
	if whole && len(lr.pending()) > 0 {
		r.bad(lr.name, lr.pendingOff())
		lr.reset(lr.off)
	}
	return nil
}

// follow polls the current file for new lines and reopens the path when the
// writer rotates it (the name then points at another inode).
func (r *reader) follow(ctx context.Context, cur *lineReader, src *source) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	info := src.info
	for {
		if err := r.drain(ctx, cur, false); err != nil || r.stop {
			return err
		}
		if !r.opts.Until.IsZero() && time.Now().After(r.opts.Until) {
			return nil
		}
		next, err := os.Stat(r.path)
		switch {
		case err == nil && !os.SameFile(next, info):
			// Rotated. The writer closed the old file before renaming
			// it, so what it holds now is final.
			if err := r.drain(ctx, cur, true); err != nil || r.stop {
				return err
			}
			f, st, err := r.catchUp(ctx, tick, info)
			if err != nil || f == nil || r.stop {
				return err // f == nil: ctx is done
			}
			_ = cur.f.Close()
			src.f = f // run's deferred close owns it now
			info = st
			*cur = lineReader{f: f, name: r.path, limit: -1}
			continue
		case err == nil:
			// Same file. If it shrank, someone truncated it (a common
			// way to clear Docker logs): start over from its beginning.
			if st, err := cur.f.Stat(); err == nil && st.Size() < cur.off {
				cur.reset(0)
			}
		case errors.Is(err, fs.ErrNotExist):
			// Between unlink and create (MaxFile 1): wait.
		default:
			return fmt.Errorf("jsonlog: follow %s: %w", r.path, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// reopen opens the new current file, waiting while it does not exist yet
// (with MaxFile 1 the writer unlinks before it creates). It returns a nil
// file when ctx is done first.
func (r *reader) reopen(ctx context.Context, tick *time.Ticker) (*os.File, os.FileInfo, error) {
	for {
		f, err := os.Open(r.path)
		if err == nil {
			st, err := f.Stat()
			if err != nil {
				_ = f.Close()
				return nil, nil, fmt.Errorf("jsonlog: follow %s: %w", r.path, err)
			}
			return f, st, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("jsonlog: follow %s: %w", r.path, err)
		}
		select {
		case <-ctx.Done():
			return nil, nil, nil
		case <-tick.C:
		}
	}
}

// catchUp reads every generation newer than old and opens the current file. When
// the writer rotates again between the last rotated file and the open, the file
// opened is not the one that follows: it is closed and the catching up goes on.
func (r *reader) catchUp(ctx context.Context, tick *time.Ticker, old os.FileInfo) (*os.File, os.FileInfo, error) {
	last := old
	for {
		var err error
		if last, err = r.readMissed(ctx, last); err != nil || r.stop {
			return nil, nil, err
		}
		f, st, err := r.reopen(ctx, tick)
		if err != nil || f == nil {
			return nil, nil, err
		}
		if name, _ := r.newerThan(last); name == "" && !r.kept(last, 2) {
			return f, st, nil
		}
		_ = f.Close() // more rotations happened: read those first
	}
}

// kept reports whether last is still among the rotated files at path.min or older.
func (r *reader) kept(last os.FileInfo, min int) bool {
	for i := min; r.opts.MaxFile <= 0 || i < r.opts.MaxFile; i++ {
		st, err := os.Stat(r.path + "." + strconv.Itoa(i))
		if err != nil {
			return false
		}
		if os.SameFile(st, last) {
			return true
		}
	}
	return false
}

// readMissed reads the rotated files newer than old, the file just finished: when
// several rotations happen between two polls, the generations in between sit at
// path.(k-1) .. path.1 if old is now path.k. The writer may still be rotating while
// they are read, shifting every name by one, so files are followed by identity
// (inode), not by name: after each file, the next newer one is looked up again.
func (r *reader) readMissed(ctx context.Context, old os.FileInfo) (os.FileInfo, error) {
	last := old
	for {
		name, want := r.newerThan(last)
		if name == "" {
			return last, nil // last is path.1 (the current file comes next) or was dropped
		}
		f, err := os.Open(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // shifted or dropped meanwhile: look again
			}
			return last, fmt.Errorf("jsonlog: follow %s: %w", name, err)
		}
		st, err := f.Stat()
		if err != nil || !os.SameFile(st, want) {
			_ = f.Close()
			if err != nil {
				return last, fmt.Errorf("jsonlog: follow %s: %w", name, err)
			}
			continue // a rotation moved another file under this name: look again
		}
		err = r.drain(ctx, &lineReader{f: f, name: name, limit: -1}, true)
		_ = f.Close()
		if err != nil || r.stop {
			return last, err
		}
		last = st
	}
}

// newerThan finds the rotated file one generation newer than last: path.(k-1) when
// last is path.k. It returns "" when last is path.1 or is no longer kept. The scan
// is repeated while the current file changes under it, so that it sees one
// consistent generation of names.
func (r *reader) newerThan(last os.FileInfo) (string, os.FileInfo) {
	// A writer rotating several times in a row (a burst of output) keeps the
	// names moving for a while; giving up early would skip generations, so
	// the scan waits a little between attempts, for up to about two seconds.
	for attempt := 0; attempt < 2000; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Millisecond)
		}
		before, errBefore := os.Stat(r.path)
		var gens []os.FileInfo // gens[i] is path.(i+1)
		for i := 1; r.opts.MaxFile <= 0 || i < r.opts.MaxFile; i++ {
			st, err := os.Stat(r.path + "." + strconv.Itoa(i))
			if err != nil {
				break
			}
			gens = append(gens, st)
		}
		after, errAfter := os.Stat(r.path)
		if errBefore != nil || errAfter != nil || !os.SameFile(before, after) {
			continue // rotating right now
		}
		for i, st := range gens {
			if os.SameFile(st, last) {
				if i == 0 {
					return "", nil
				}
				return r.path + "." + strconv.Itoa(i), gens[i-1]
			}
		}
		return "", nil
	}
	return "", nil
}

type fileEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// deliver decodes one file line and hands it to out if the time bounds let
// it through.
func (r *reader) deliver(line []byte, name string, off int64) error {
	line = bytes.TrimLeft(line, "\x00")
	if len(bytes.TrimSpace(line)) == 0 {
		if len(line) > 1 { // more than a bare "\n": garbage
			r.bad(name, off)
		}
		return nil
	}
	var fe fileEntry
	if err := json.Unmarshal(line, &fe); err != nil || fe.Time.IsZero() {
		r.bad(name, off)
		return nil
	}
	if !r.opts.Since.IsZero() && fe.Time.Before(r.opts.Since) {
		return nil
	}
	if !r.opts.Until.IsZero() && fe.Time.After(r.opts.Until) {
		r.stop = true
		return nil
	}
	return r.out(Entry{
		Stream:  fe.Stream,
		Time:    fe.Time,
		Log:     []byte(fe.Log),
		Partial: len(fe.Log) == 0 || fe.Log[len(fe.Log)-1] != '\n',
	})
}

func (r *reader) bad(name string, off int64) {
	if r.corrupt == 0 {
		r.firstBad, r.firstBadOff = name, off
	}
	r.corrupt++
}

// lineReader reads complete lines of a file from off, up to limit (-1: no
// limit), keeping an incomplete last line until its "\n" arrives.
type lineReader struct {
	f     *os.File
	name  string
	off   int64 // next byte to read from the file
	limit int64
	buf   []byte
	start int  // first byte of buf not yet returned
	skip  bool // inside an over-long line: drop bytes up to the next "\n"
}

func (lr *lineReader) pending() []byte   { return lr.buf[lr.start:] }
func (lr *lineReader) pendingOff() int64 { return lr.off - int64(len(lr.buf)-lr.start) }

func (lr *lineReader) reset(off int64) {
	lr.off, lr.buf, lr.start, lr.skip = off, lr.buf[:0], 0, false
}

// next returns the next complete line (with its "\n") and its file offset;
// ok is false when no complete line is available yet.
func (lr *lineReader) next(r *reader) (line []byte, off int64, ok bool, err error) {
	for {
		p := lr.buf[lr.start:]
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			off = lr.pendingOff()
			lr.start += i + 1
			if lr.skip {
				lr.skip = false
				continue
			}
			return p[:i+1], off, true, nil
		}
		if len(p) > maxLine {
			if !lr.skip {
				r.bad(lr.name, lr.pendingOff())
			}
			lr.skip = true
			lr.buf, lr.start = lr.buf[:0], 0
			p = nil
		}
		// Compact before reading more, so buf does not grow without end.
		if lr.start > 0 {
			n := copy(lr.buf, p)
			lr.buf, lr.start = lr.buf[:n], 0
		}
		want := int64(64 * 1024)
		if lr.limit >= 0 {
			if lr.off >= lr.limit {
				return nil, 0, false, nil
			}
			want = min(want, lr.limit-lr.off)
		}
		n := len(lr.buf)
		lr.buf = append(lr.buf, make([]byte, want)...)
		m, err := lr.f.ReadAt(lr.buf[n:], lr.off)
		lr.buf = lr.buf[:n+m]
		lr.off += int64(m)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, false, fmt.Errorf("jsonlog: read %s: %w", lr.name, err)
		}
		if m == 0 {
			return nil, 0, false, nil
		}
	}
}

// Format renders an entry as `docker logs` prints it: the log bytes, after
// the time and a space with -t. Docker prints the time with a fixed nine
// digits of fraction (jsonmessage.RFC3339NanoFixed), so columns line up.
func Format(e Entry, timestamps bool) []byte {
	if !timestamps {
		return append([]byte(nil), e.Log...)
	}
	const fixed = "2006-01-02T15:04:05.000000000Z07:00"
	b := e.Time.UTC().AppendFormat(make([]byte, 0, len(fixed)+1+len(e.Log)), fixed)
	b = append(b, ' ')
	return append(b, e.Log...)
}
