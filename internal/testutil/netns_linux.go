package testutil

import (
	"fmt"
	goruntime "runtime"

	"github.com/vishvananda/netns"
)

// InThread runs fn on a new locked OS thread that dies after it, so that whatever fn does to
// the thread's namespaces goes with the thread.
func InThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread exits with the goroutine
		errc <- fn()
	}()
	return <-errc
}

// InNetNS runs fn in the network namespace ns; sockets fn opens stay in ns wherever they are
// used afterwards.
func InNetNS(ns netns.NsHandle, fn func() error) error {
	return InThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("entering namespace: %w", err)
		}
		return fn()
	})
}
