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
