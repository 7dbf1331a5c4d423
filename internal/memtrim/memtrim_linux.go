// Package memtrim keeps the resident memory of berth's long-lived runtime
// processes (monitor, init) down to the pages of the binary they use.
package memtrim

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Delay is how long a runtime process runs before it calls Text: long
// enough that short-lived containers never pay for pages faulted back.
const Delay = 2 * time.Second

// Text keeps only the pages of berth's own binary that a long-lived
// monitor uses resident. The kernel maps up to 16 neighbouring pages of a
// file on each fault ("fault-around"), which makes a large binary's
// untouched code count in every monitor's RSS. MADV_RANDOM turns that off
// for the binary's read-only mappings, and MADV_DONTNEED drops what start-up
// already mapped: clean file pages, read back on demand. Writable mappings
// (data) are never touched. Errors are ignored: this only saves memory.
func Text() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		// The path may have spaces: "/memfd:berth (deleted)" for the init.
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe || strings.Contains(fields[1], "w") {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		// Raw calls: the range is the process's own mapping, not Go memory.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_RANDOM)
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_DONTNEED)
	}
}
