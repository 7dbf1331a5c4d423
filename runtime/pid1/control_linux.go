package pid1

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/scm"
)

// control is the init's end of the socketpair with the monitor, or nil when
// the init was started without one (tests that drive the init directly).
type control struct{ fd int }

// openControl returns the socket at ControlFD, if that is one.
func openControl() *control {
	var st unix.Stat_t
	if err := unix.Fstat(ControlFD, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil
	}
	return &control{fd: ControlFD}
}

// send writes m as one message, with files attached (SCM_RIGHTS).
func (c *control) send(m Message, files ...*os.File) error {
	return c.sendWith(m, nil, files...)
}

// sendAbout writes m with pid's credentials attached (SCM_CREDENTIALS): the
// kernel gives the monitor the pid as its own PID namespace numbers it.
func (c *control) sendAbout(m Message, pid int) error {
	creds := unix.UnixCredentials(&unix.Ucred{Pid: int32(pid), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
	return c.sendWith(m, creds)
}

// request sends m and reads the monitor's one reply, before the receive
// goroutine runs.
func (c *control) request(m Message) (Message, error) {
	if err := c.send(m); err != nil {
		return Message{}, err
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, _, _, err := unix.Recvmsg(c.fd, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Message{}, fmt.Errorf("pid1: read the monitor's reply: %w", os.NewSyscallError("recvmsg", err))
		}
		if n == 0 {
			return Message{}, errors.New("pid1: the monitor is gone")
		}
		var r Message
		if err := json.Unmarshal(buf[:n], &r); err != nil {
			return Message{}, fmt.Errorf("pid1: bad reply from the monitor: %w", err)
		}
		return r, nil
	}
}

func (c *control) sendWith(m Message, oob []byte, files ...*os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := scm.Send(c.fd, b, append(oob, scm.Rights(files...)...)); err != nil {
		return fmt.Errorf("pid1: report to the monitor: %w", err)
	}
	return nil
}

// openPty opens a pty pair from the container's own devpts instance (the
// root is already the container's): the master for the monitor, the slave
// for the workload. The slave comes from TIOCGPTPEER, which opens the peer
// of this very master without a path lookup in /dev/pts.
func openPty(size [2]uint16) (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("pid1: open the pty master: %w", &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err})
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pid1: unlock the pty: %w", os.NewSyscallError("ioctl(TIOCSPTLCK)", err))
	}
	// The argument is the slave's open flags.
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		master.Close()
		return nil, nil, fmt.Errorf("pid1: open the pty slave: %w", os.NewSyscallError("ioctl(TIOCGPTPEER)", errno))
	}
	slave = os.NewFile(sfd, "pty-slave")
	if size[0] > 0 && size[1] > 0 {
		ws := &unix.Winsize{Row: size[0], Col: size[1]}
		if err := unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, ws); err != nil {
			master.Close()
			slave.Close()
			return nil, nil, fmt.Errorf("pid1: set the pty size: %w", os.NewSyscallError("ioctl(TIOCSWINSZ)", err))
		}
	}
	return master, slave, nil
}

// readStatus reads what the workload-exec child reported on its status
// pipe: nothing (EOF at once) when its execve succeeded.
func readStatus(r io.Reader) (Message, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return Message{}, fmt.Errorf("pid1: read the workload's start status: %w", err)
	}
	if len(b) == 0 {
		return Message{Started: true}, nil
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("pid1: bad start status from the workload: %w", err)
	}
	if m.Error == "" {
		return Message{}, errors.New("pid1: the workload reported a failure without a reason")
	}
	return m, nil
}

// received is one message from the monitor with the descriptors it carried.
type received struct {
	msg   Message
	files []*os.File
}

// receive reads the monitor's messages until the socket closes, on a
// goroutine of its own; the channel closes with it.
func (c *control) receive() <-chan received {
	out := make(chan received, 16)
	go func() {
		defer close(out)
		buf := make([]byte, 256<<10)
		oob := make([]byte, unix.CmsgSpace(3*4))
		for {
			n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				return
			}
			var r received
			if oobn > 0 {
				r.files = scm.Files(oob[:oobn])
			}
			if err := json.Unmarshal(buf[:n], &r.msg); err != nil {
				closeFiles(r.files)
				fmt.Fprintf(os.Stderr, "berth init: bad message from the monitor: %v\n", err)
				continue
			}
			out <- r
		}
	}()
	return out
}

func closeFiles(files []*os.File) { scm.Close(files) }
