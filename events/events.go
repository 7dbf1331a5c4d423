// Package events is berth's event log: what `docker events` streams from
// Docker's daemon, kept without a daemon as an append-only journal under
// the state root that every berth process (CLI and monitors) writes to and
// that `berth system events` and `berth events` read and follow.
//
// The journal is $ROOT/events/journal, one JSON object a line in the shape
// of Docker's events API message. Each line is written with one O_APPEND
// write of less than MaxLine bytes, so lines from concurrent writers in any
// number of processes never interleave. When the journal grows past its
// limit it is renamed journal.1 (replacing the one before), so the log
// never holds more than about twice the limit.
//
// Appending must stay cheap and must never fail what it records: callers
// ignore or log its error and carry on. The package needs only the
// standard library and golang.org/x/sys, as the monitor links it.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Docker's object types.
const (
	TypeContainer = "container"
	TypeNetwork   = "network"
	TypeVolume    = "volume"
	TypeImage     = "image"
)

const (
	// dirName is the journal's directory under the state root.
	dirName     = "events"
	journalName = "journal"
	// oldSuffix names the journal that rotation set aside.
	oldSuffix = ".1"
	lockName  = ".lock"

	// DefaultMaxSize is the size past which the journal is rotated.
	DefaultMaxSize = 2 << 20
	// MaxLine bounds one journal line, newline included: one page, which
	// a single write puts in the file whole.
	MaxLine = 4096

	scopeLocal = "local"
)

// Actor is the object an event is about: its id and attributes (for a
// container: name, image, its labels, and what the action adds, such as
// exitCode or signal).
type Actor struct {
	ID         string
	Attributes map[string]string
}

// Event is one entry, in the shape of Docker's events API message, which is
// what `--format '{{json .}}'` prints and what templates see.
type Event struct {
	// Status, ID and From repeat Action, the actor's id and its image for
	// container events, as Docker still sends them (deprecated fields).
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`

	Type     string
	Action   string
	Actor    Actor
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// When is the event's time.
func (e Event) When() time.Time {
	if e.TimeNano != 0 {
		return time.Unix(0, e.TimeNano)
	}
	return time.Unix(e.Time, 0)
}

// Dir is the journal's directory under the state root.
func Dir(root string) string { return filepath.Join(root, dirName) }

// Journal is one journal directory.
type Journal struct {
	// Dir holds the journal (required); it is made on the first append.
	Dir string
	// MaxSize is the size past which the journal is rotated; zero is
	// DefaultMaxSize.
	MaxSize int64
}

// Append adds e to the journal of the state root: Journal.Append with the
// default size.
func Append(root string, e Event) error {
	return Journal{Dir: Dir(root)}.Append(e)
}

func (j Journal) path() string    { return filepath.Join(j.Dir, journalName) }
func (j Journal) oldPath() string { return j.path() + oldSuffix }

func (j Journal) maxSize() int64 {
	if j.MaxSize > 0 {
		return j.MaxSize
	}
	return DefaultMaxSize
}

// Append writes e as one line: the time is now unless set, and the line is
// made to fit MaxLine (see encode). It costs one open, write, fstat and
// close; past MaxSize, the appender that notices rotates the journal.
func (j Journal) Append(e Event) error {
	line, err := encode(e, time.Now())
	if err != nil {
		return err
	}
	path := j.path()
	fd, err := openAppend(path)
	if errors.Is(err, syscall.ENOENT) {
		if err := os.MkdirAll(j.Dir, 0o700); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		fd, err = openAppend(path)
	}
	if err != nil {
		return fmt.Errorf("events: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	var n int
	for {
		n, err = syscall.Write(fd, line)
		if err != syscall.EINTR {
			break
		}
	}
	var st syscall.Stat_t
	serr := syscall.Fstat(fd, &st)
	syscall.Close(fd)
	if err == nil && n != len(line) {
		err = syscall.ENOSPC // a regular file writes short only when full
	}
	if err != nil {
		return fmt.Errorf("events: %w", &os.PathError{Op: "write", Path: path, Err: err})
	}
	if serr == nil && st.Size > j.maxSize() {
		return j.rotate()
	}
	return nil
}

func openAppend(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// rotate sets the journal aside as journal.1 once it is past MaxSize. Under
// the directory's lock, and only if the journal there is still too big:
// appenders that all noticed the same full journal rotate it once.
func (j Journal) rotate() error {
	lock, err := os.OpenFile(filepath.Join(j.Dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("events: rotate: %w", err)
	}
	defer lock.Close()
	for {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("events: rotate: lock: %w", err)
	}
	st, err := os.Stat(j.path())
	if err != nil || st.Size() <= j.maxSize() {
		return nil
	}
	if err := os.Rename(j.path(), j.oldPath()); err != nil {
		return fmt.Errorf("events: rotate: %w", err)
	}
	return nil
}

// coreAttributes are kept when a line must shrink: what identifies the
// actor and what the action says.
var coreAttributes = []string{"name", "image", "exitCode", "signal", "container", "driver", "type", "execID", "oldName", "execDuration"}

// encode is e's journal line, newline included: Docker's defaults filled
// in (scope local, the time now, the legacy fields of container events).
// A line that would reach MaxLine loses its other attributes (labels),
// largest first, then has its long values cut.
func encode(e Event, now time.Time) ([]byte, error) {
	if e.Type == "" || e.Action == "" {
		return nil, errors.New("events: an event needs a type and an action")
	}
	if e.TimeNano == 0 {
		e.TimeNano = now.UnixNano()
	}
	e.Time = e.TimeNano / int64(time.Second)
	if e.Scope == "" {
		e.Scope = scopeLocal
	}
	if e.Type == TypeContainer {
		e.Status, e.ID, e.From = e.Action, e.Actor.ID, e.Actor.Attributes["image"]
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if len(b) < MaxLine {
		return append(b, '\n'), nil
	}
	attrs := make(map[string]string, len(e.Actor.Attributes))
	for k, v := range e.Actor.Attributes {
		attrs[k] = v
	}
	e.Actor.Attributes = attrs
	var others []string
	for k := range attrs {
		if !slices.Contains(coreAttributes, k) {
			others = append(others, k)
		}
	}
	slices.SortFunc(others, func(a, b string) int { return len(a) + len(attrs[a]) - len(b) - len(attrs[b]) })
	for len(b) >= MaxLine && len(others) > 0 {
		delete(attrs, others[len(others)-1])
		others = others[:len(others)-1]
		if b, err = json.Marshal(e); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
	}
	for _, limit := range []int{512, 128} {
		if len(b) < MaxLine {
			break
		}
		e.Action, e.Status, e.From = cut(e.Action, limit), cut(e.Status, limit), cut(e.From, limit)
		for k, v := range attrs {
			attrs[k] = cut(v, limit)
		}
		if b, err = json.Marshal(e); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
	}
	if len(b) >= MaxLine {
		return nil, fmt.Errorf("events: %s %s event of %s does not fit in %d bytes", e.Type, e.Action, e.Actor.ID, MaxLine)
	}
	return append(b, '\n'), nil
}

// cut shortens s to at most n bytes of whole UTF-8 characters.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}
