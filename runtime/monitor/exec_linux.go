package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/scm"
	"github.com/berth-sh/berth/runtime/pid1"
)

// execReply is one line the monitor writes back to an exec client.
type execReply struct {
	// Pty: the line carries the pty master (SCM_RIGHTS).
	Pty     bool   `json:"pty,omitempty"`
	Started bool   `json:"started,omitempty"`
	Exited  bool   `json:"exited,omitempty"`
	Code    int    `json:"exit_code"`
	Error   string `json:"error,omitempty"`
}

// initMessage is a message of the init with the descriptor it carried.
type initMessage struct {
	msg  pid1.Message
	file *os.File
}

// initLink is the monitor's side of the control socket once the workload
// runs: requests out, exec sessions' reports dispatched to them.
type initLink struct {
	ctl    *os.File
	sendMu sync.Mutex
	// place puts a process the init started into the container's cgroup.
	place func(pid int) error

	mu       sync.Mutex
	sessions map[int]chan initMessage
	next     int
	gone     bool // the init closed its end: it has exited
}

func newInitLink(ctl *os.File, place func(pid int) error) *initLink {
	// The init names the processes it wants placed with SCM_CREDENTIALS,
	// which the kernel translates into this PID namespace's numbers.
	_ = unix.SetsockoptInt(int(ctl.Fd()), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	return &initLink{ctl: ctl, place: place, sessions: map[int]chan initMessage{}}
}

func (l *initLink) send(m pid1.Message, files ...*os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if err := scm.Send(int(l.ctl.Fd()), b, scm.Rights(files...)); err != nil {
		return fmt.Errorf("monitor: send to the init: %w", err)
	}
	return nil
}

// dispatch reads the init's reports until it exits and hands each to its
// exec session; sessions still open then are closed.
func (l *initLink) dispatch() {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(l.ctl.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			break
		}
		var im initMessage
		if oobn > 0 {
			if files := scm.Files(oob[:oobn]); len(files) > 0 {
				im.file = files[0]
				closeFiles(files[1:])
			}
		}
		if json.Unmarshal(buf[:n], &im.msg) != nil {
			closeFiles([]*os.File{im.file})
			continue
		}
		if im.msg.Place > 0 {
			// The init waits for this before the process may run.
			reply := pid1.Message{ExecID: im.msg.ExecID, Placed: true}
			pid, err := credentialsPid(oob[:oobn])
			if err == nil {
				err = l.place(pid)
			}
			if err != nil {
				reply = pid1.Message{ExecID: im.msg.ExecID, Error: err.Error()}
			}
			_ = l.send(reply)
			continue
		}
		l.mu.Lock()
		ch, ok := l.sessions[im.msg.ExecID]
		l.mu.Unlock()
		if !ok {
			// A session whose client is gone (or detached).
			closeFiles([]*os.File{im.file})
			continue
		}
		ch <- im
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gone = true
	for id, ch := range l.sessions {
		close(ch)
		delete(l.sessions, id)
	}
}

// credentialsPid is the pid of an SCM_CREDENTIALS message, in this
// process's PID namespace.
func credentialsPid(oob []byte) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, fmt.Errorf("monitor: the init's message: %w", err)
	}
	for i := range msgs {
		if msgs[i].Header.Level == unix.SOL_SOCKET && msgs[i].Header.Type == unix.SCM_CREDENTIALS {
			cred, err := unix.ParseUnixCredentials(&msgs[i])
			if err != nil {
				return 0, fmt.Errorf("monitor: the init's credentials: %w", err)
			}
			if cred.Pid <= 0 {
				return 0, fmt.Errorf("monitor: the init named pid %d", cred.Pid)
			}
			return int(cred.Pid), nil
		}
	}
	return 0, errors.New("monitor: the init's message names no process")
}

// open registers a new exec session.
func (l *initLink) open() (int, chan initMessage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return 0, nil, ErrNotRunning
	}
	l.next++
	ch := make(chan initMessage, 8)
	l.sessions[l.next] = ch
	return l.next, ch, nil
}

// end unregisters a session; later reports for it are dropped.
func (l *initLink) end(id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.sessions[id]; ok {
		delete(l.sessions, id)
		// Drain what is queued, closing descriptors.
		for {
			select {
			case im := <-ch:
				closeFiles([]*os.File{im.file})
				continue
			default:
			}
			break
		}
	}
}

// exec serves one exec request: the process is started by the init with
// the client's stdio (or a pty whose master goes back to the client), and
// the client hears when it started and how it ended. A client that goes
// away before then gets its process killed, unless it detached.
func (m *monitor) exec(lc *lineConn, req *request, files []*os.File) {
	defer closeFiles(files)
	reply := func(r execReply, f ...*os.File) error {
		b, _ := json.Marshal(r)
		return lc.writeLine(b, f...)
	}
	fail := func(err error) { _ = reply(execReply{Error: err.Error(), Code: -1}) }
	m.mu.Lock()
	link := m.link
	m.mu.Unlock()
	switch {
	case req.Exec == nil:
		fail(errors.New("exec: no process given"))
		return
	case m.getState().Status != StatusRunning || link == nil:
		fail(ErrNotRunning)
		return
	case req.Exec.Tty && len(files) != 0, !req.Exec.Tty && len(files) != 3:
		fail(fmt.Errorf("exec: %d stdio descriptors passed", len(files)))
		return
	}
	id, ch, err := link.open()
	if err != nil {
		fail(err)
		return
	}
	defer link.end(id)
	r := *req.Exec
	if err := link.send(pid1.Message{ExecID: id, Exec: &r}, files...); err != nil {
		fail(err)
		return
	}
	closeFiles(files)
	files = nil
	gone := make(chan struct{})
	go func() {
		// The client sends nothing more: a read ends when it hangs up.
		var b [1]byte
		_, _ = lc.conn.Read(b[:])
		close(gone)
	}()
	for {
		select {
		case im, ok := <-ch:
			if !ok {
				// The container ended, and the init killed the process with it.
				_ = reply(execReply{Exited: true, Code: exitMonitorDied})
				return
			}
			switch {
			case im.msg.Pty:
				err := reply(execReply{Pty: true}, im.file)
				closeFiles([]*os.File{im.file})
				if err != nil {
					_ = link.send(pid1.Message{ExecID: id, Kill: true})
					return
				}
			case im.msg.Error != "":
				_ = reply(execReply{Error: im.msg.Error, Code: im.msg.ExitCode})
				return
			case im.msg.Started:
				if reply(execReply{Started: true}) != nil && !req.Detach {
					_ = link.send(pid1.Message{ExecID: id, Kill: true})
					return
				}
				if req.Detach {
					return
				}
			case im.msg.Exited:
				_ = reply(execReply{Exited: true, Code: im.msg.ExitCode})
				return
			}
		case <-gone:
			if !req.Detach {
				_ = link.send(pid1.Message{ExecID: id, Kill: true})
			}
			return
		}
	}
}

// ExecSession is a client's exec: started, with its pty master for a tty.
type ExecSession struct {
	lc *lineConn
	// Pty is the master of the process's terminal (Tty requests only): the
	// caller copies to and from it and sets its size.
	Pty *os.File
}

// Exec starts req in the container whose monitor listens in runDir. Without
// a tty, stdio are the process's stdin, stdout and stderr, passed to it as
// they are. It returns once the process runs; a process that cannot be
// started gives a *StartError (126, 127, as Docker's). Unless detach, the
// process is killed when the session is closed before it has ended.
func Exec(ctx context.Context, runDir string, req pid1.ExecRequest, stdio []*os.File, detach bool) (*ExecSession, error) {
	path := socketPath(runDir)
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if monitorGone(err) {
			return nil, fmt.Errorf("monitor: exec %s: %w", path, ErrNotRunning)
		}
		return nil, fmt.Errorf("monitor: exec: %w", err)
	}
	s := &ExecSession{lc: &lineConn{conn: c.(*net.UnixConn)}}
	stop := context.AfterFunc(ctx, func() { _ = s.lc.conn.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(request{Op: "exec", Exec: &req, Detach: detach})
	if err == nil {
		err = s.lc.writeLine(b, stdio...)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("monitor: exec %s: %w", path, err)
	}
	for {
		r, file, err := s.next()
		if err != nil {
			s.Close()
			switch {
			case ctx.Err() != nil:
				err = ctx.Err()
			case monitorGone(err):
				err = ErrNotRunning
			}
			return nil, fmt.Errorf("monitor: exec: %w", err)
		}
		switch {
		case r.Pty && file != nil:
			s.Pty = file
		case r.Error != "":
			s.Close()
			if r.Code < 0 {
				if r.Error == ErrNotRunning.Error() {
					return nil, fmt.Errorf("monitor: exec: %w", ErrNotRunning)
				}
				return nil, fmt.Errorf("monitor: exec: %s", r.Error)
			}
			return nil, &StartError{Msg: r.Error, ExitCode: r.Code}
		case r.Started:
			_ = s.lc.conn.SetDeadline(time.Time{})
			return s, nil
		}
	}
}

func (s *ExecSession) next() (execReply, *os.File, error) {
	line, files, err := s.lc.readLine(64 << 10)
	if err != nil {
		return execReply{}, nil, err
	}
	var r execReply
	if err := json.Unmarshal(line, &r); err != nil {
		closeFiles(files)
		return execReply{}, nil, fmt.Errorf("bad reply from the monitor: %w", err)
	}
	var f *os.File
	if len(files) > 0 {
		f = files[0]
		closeFiles(files[1:])
	}
	return r, f, nil
}

// Wait returns the process's exit code once it has ended (137 when the
// container ended under it).
func (s *ExecSession) Wait() (int, error) {
	for {
		r, f, err := s.next()
		closeFiles([]*os.File{f})
		if err != nil {
			return -1, fmt.Errorf("monitor: exec: lost the monitor: %w", err)
		}
		if r.Exited {
			return r.Code, nil
		}
	}
}

// Close ends the session (killing a process that has not ended, unless it
// was detached) and closes the pty master.
func (s *ExecSession) Close() error {
	if s.Pty != nil {
		s.Pty.Close()
	}
	return s.lc.conn.Close()
}
