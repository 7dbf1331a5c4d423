package events

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// watcher wakes a follower when the journal directory changes: inotify on
// the directory (appends, the new journal of a rotation). Without it (no
// inotify instance to be had) the follower polls.
type watcher struct{ fd int }

func newWatcher(dir string) *watcher {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return &watcher{fd: -1}
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return &watcher{fd: -1}
	}
	return &watcher{fd: fd}
}

// wait returns when the directory changed, after d, or when ctx ends.
func (w *watcher) wait(ctx context.Context, d time.Duration) {
	if w.fd < 0 {
		sleep(ctx, d)
		return
	}
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(d.Milliseconds())+1); err != nil || n == 0 {
		return
	}
	// Drain the notifications: the follower reads whatever they were about.
	var buf [4096]byte
	for {
		if n, err := unix.Read(w.fd, buf[:]); n <= 0 || err != nil {
			return
		}
	}
}

func (w *watcher) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
