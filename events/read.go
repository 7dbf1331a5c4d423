package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

const (
	// pollInterval bounds how long a follower sleeps between looks at the
	// journal when nothing wakes it (and so how long it takes to notice a
	// cancelled context or a passed Until).
	pollInterval = 200 * time.Millisecond
	// rotatedGrace is how long a follower keeps reading a journal that was
	// set aside: an appender that opened it just before the rotation
	// writes there.
	rotatedGrace = 2 * time.Second
	// maxPartial drops a partial line that never ends (a torn journal).
	maxPartial = 1 << 20
)

// Options select the events Read and Follow deliver, as docker events'
// --since, --until and --filter.
type Options struct {
	// Since and Until bound the events' times (inclusive; zero: no bound).
	Since, Until time.Time
	Filter       Filter
}

func (o Options) match(e Event) bool {
	t := e.When()
	if !o.Since.IsZero() && t.Before(o.Since) || !o.Until.IsZero() && t.After(o.Until) {
		return false
	}
	return o.Filter.Match(e)
}

// Read calls fn with the events of the state root's journal that o selects,
// oldest first, and returns at its end (nil when there is no journal). An
// error from fn stops it and is returned.
func Read(root string, o Options, fn func(Event) error) error {
	j := Journal{Dir: Dir(root)}
	old, cur, err := j.open()
	if err != nil {
		return err
	}
	for _, t := range []*tail{old, cur} {
		err = t.read(o, fn)
		t.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Follow is docker events: it replays the journal's events from Since to
// Until when either is set (none otherwise), then delivers each new one as
// it is appended until ctx ends (ctx.Err()), or, with Until, until that
// time has passed (nil). It watches the journal with inotify where it can,
// and polls otherwise.
func Follow(ctx context.Context, root string, o Options, fn func(Event) error) error {
	j := Journal{Dir: Dir(root)}
	// Made now, so that it can be watched before anyone appends.
	_ = os.MkdirAll(j.Dir, 0o700)
	w := newWatcher(j.Dir)
	defer w.close()

	old, cur, err := j.open()
	if err != nil {
		return err
	}
	// journal.1 as it is now is never delivered again once replayed, nor
	// at all without a replay: it holds only events from before now.
	f := &follower{j: j, cur: cur, seen: old}
	defer f.close()
	live := Options{Until: o.Until, Filter: o.Filter}
	if !o.Since.IsZero() || !o.Until.IsZero() {
		if err := old.read(o, fn); err != nil {
			return err
		}
		if err := cur.read(o, fn); err != nil {
			return err
		}
	} else if cur != nil {
		// Only what comes from now on.
		if cur.off, err = cur.f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	}
	for {
		if err := f.poll(live, fn); err != nil {
			return err
		}
		wait := pollInterval
		if !o.Until.IsZero() {
			left := time.Until(o.Until)
			if left < 0 {
				// What was appended up to Until is read once more.
				return f.poll(live, fn)
			}
			wait = min(wait, left+time.Millisecond)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		w.wait(ctx, wait)
	}
}

// open opens journal.1 and the journal, retrying when a rotation moves the
// journal between the two opens, so that no part of the log is missed.
// Either is nil when it does not exist.
func (j Journal) open() (old, cur *tail, err error) {
	for try := 0; ; try++ {
		if old, err = openTail(j.oldPath()); err != nil {
			return nil, nil, err
		}
		if cur, err = openTail(j.path()); err != nil {
			old.close()
			return nil, nil, err
		}
		// journal.1 must still be the file opened as such.
		again, err := openTail(j.oldPath())
		if err != nil {
			old.close()
			cur.close()
			return nil, nil, err
		}
		same := again.same(old) || again == nil && old == nil
		again.close()
		if same || try == 3 {
			return old, cur, nil
		}
		old.close()
		cur.close()
	}
}

// tail reads one journal file line by line from an offset, keeping a
// partial last line (a write under way) for the next read.
type tail struct {
	f       *os.File
	info    os.FileInfo
	off     int64
	partial []byte
}

// openTail opens path; nil and no error when it does not exist.
func openTail(path string) (*tail, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &tail{f: f, info: info}, nil
}

func (t *tail) close() {
	if t != nil {
		t.f.Close()
	}
}

// same reports whether both tails read the same file (never when either
// is nil).
func (t *tail) same(o *tail) bool {
	return t != nil && o != nil && os.SameFile(t.info, o.info)
}

// read delivers the whole lines from the offset to the end of the file.
func (t *tail) read(o Options, fn func(Event) error) error {
	if t == nil {
		return nil
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := t.f.ReadAt(buf, t.off)
		if n > 0 {
			t.off += int64(n)
			t.partial = append(t.partial, buf[:n]...)
			if err := t.deliver(o, fn); err != nil {
				return err
			}
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// deliver hands the complete lines of partial to fn.
func (t *tail) deliver(o Options, fn func(Event) error) error {
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			if len(t.partial) > maxPartial {
				t.partial = t.partial[:0]
			}
			return nil
		}
		line := t.partial[:i]
		t.partial = t.partial[i+1:]
		var e Event
		if json.Unmarshal(line, &e) != nil || e.Type == "" {
			continue // a line torn by a crash
		}
		if o.match(e) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}

// follower reads what is appended to the journal, across rotations.
type follower struct {
	j Journal
	// cur is the journal being read; nil until there is one.
	cur *tail
	// seen is a journal.1 that was read, or is older than the follower:
	// not to be delivered again after a rotation.
	seen *tail
	// rotated is the journal set aside last, read until rotatedUntil.
	rotated      *tail
	rotatedUntil time.Time
}

func (f *follower) close() {
	f.cur.close()
	f.seen.close()
	f.rotated.close()
	f.cur, f.seen, f.rotated = nil, nil, nil
}

// poll delivers what was appended since the last poll. When the journal
// was rotated (or appeared) meanwhile, it reads the rest of the old one,
// then journal.1 unless that is the old one or was seen (two rotations
// between polls), then the new journal from its start.
func (f *follower) poll(o Options, fn func(Event) error) error {
	if f.rotated != nil {
		if err := f.rotated.read(o, fn); err != nil {
			return err
		}
		if time.Now().After(f.rotatedUntil) {
			f.rotated.close()
			f.rotated = nil
		}
	}
	if f.cur != nil {
		if err := f.cur.read(o, fn); err != nil {
			return err
		}
		now, err := os.Stat(f.j.path())
		if err == nil && os.SameFile(now, f.cur.info) {
			return nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		// Rotated: what was appended before the rename first.
		if err := f.cur.read(o, fn); err != nil {
			return err
		}
	} else if _, err := os.Stat(f.j.path()); err != nil {
		// Still no journal.
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	old, cur, err := f.j.open()
	if err != nil {
		return err
	}
	if old != nil && !old.same(f.cur) && !old.same(f.seen) {
		if err := old.read(o, fn); err != nil {
			old.close()
			cur.close()
			return err
		}
	}
	f.seen.close()
	f.seen = old
	if f.cur != nil {
		f.rotated.close()
		f.rotated, f.rotatedUntil = f.cur, time.Now().Add(rotatedGrace)
	}
	f.cur = cur
	return f.cur.read(o, fn)
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
