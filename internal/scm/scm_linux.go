// Package scm reads the descriptors that arrive with a unix socket message
// (SCM_RIGHTS), for the monitor, the init and the CLI alike.
package scm

import (
	"os"

	"golang.org/x/sys/unix"
)

// Files takes the descriptors of the SCM_RIGHTS control messages in oob,
// marked close-on-exec. Other control messages (credentials) are skipped.
func Files(oob []byte) []*os.File {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var files []*os.File
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return files
}

// Close closes every file, skipping nil ones.
func Close(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// Rights is the SCM_RIGHTS control message carrying files, or nil for none.
func Rights(files ...*os.File) []byte {
	if len(files) == 0 {
		return nil
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return unix.UnixRights(fds...)
}

// Send writes one message with its control data on the socket fd, again
// when a signal interrupts it.
func Send(fd int, b, oob []byte) error {
	for {
		err := unix.Sendmsg(fd, b, oob, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		return nil
	}
}
