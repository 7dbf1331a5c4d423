package seccomp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-sh/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

const helperEnv = "BERTH_SECCOMP_TEST_HELPER"

// TestKernelFilter installs the default filter (Docker's 14 caps) in a re-executed copy of the
// test binary, which reports one RESULT line per check.
func TestKernelFilter(t *testing.T) {
	testutil.RequireRoot(t)
	i386 := filepath.Join(t.TempDir(), "i386-probe")
	if err := os.WriteFile(i386, i386Probe(), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+i386)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	done := false
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		line, ok := strings.CutPrefix(s.Text(), "RESULT ")
		if !ok {
			continue
		}
		name, verdict, _ := strings.Cut(line, ": ")
		switch {
		case name == "done":
			done = true
		case strings.HasPrefix(verdict, "ok"):
			t.Logf("%s: %s", name, verdict)
		case strings.HasPrefix(verdict, "skip"):
			t.Logf("%s: %s", name, verdict)
		default:
			t.Errorf("%s: %s", name, verdict)
		}
	}
	if !done {
		t.Fatalf("helper did not finish:\n%s", out)
	}
}

// TestHelperProcess is the child of TestKernelFilter; it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	i386 := os.Getenv(helperEnv)
	if i386 == "" {
		t.Skip("helper for TestKernelFilter")
	}
	report := func(name string, err error) {
		if err != nil {
			fmt.Printf("RESULT %s: FAIL %v\n", name, err)
		} else {
			fmt.Printf("RESULT %s: ok\n", name)
		}
	}
	wantErrno := func(want unix.Errno, err error) error {
		if !errors.Is(err, want) {
			return fmt.Errorf("got %v, want %v", err, want)
		}
		return nil
	}
	raw := func(nr uintptr, args ...uintptr) error {
		var a [6]uintptr
		copy(a[:], args)
		_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		if e != 0 {
			return e
		}
		return nil
	}

	runtime.LockOSThread() // so the TSYNC check below runs on a different thread
	defer runtime.UnlockOSThread()
	prog, err := Compile(Default(), Options{Capabilities: dockerCaps})
	if err == nil {
		var f []SockFilter
		if f, err = Assemble(prog); err == nil {
			if err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err == nil {
				err = Install(f)
			}
		}
	}
	report("install", err)
	if err != nil {
		fmt.Println("RESULT done: ok")
		return
	}

	report("unshare(CLONE_NEWNS)", wantErrno(unix.EPERM, unix.Unshare(unix.CLONE_NEWNS)))
	report("mount", wantErrno(unix.EPERM, unix.Mount("none", "/mnt", "tmpfs", 0, "")))
	report("keyctl", wantErrno(unix.EPERM, raw(unix.SYS_KEYCTL, 0, 0)))
	_, err = unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	report("socket(AF_VSOCK)", wantErrno(unix.EPERM, err))
	_, err = unix.Socket(unix.AF_ALG, unix.SOCK_SEQPACKET, 0)
	report("socket(AF_ALG)", wantErrno(unix.EPERM, err))
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	report("socket(AF_INET)", err)
	if pid, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); e != 0 || int(pid) != os.Getpid() {
		report("getpid", fmt.Errorf("pid %d errno %v", pid, e))
	} else {
		report("getpid", nil)
	}
	report("clone3", wantErrno(unix.ENOSYS, raw(unix.SYS_CLONE3, 0, 0)))
	report("nr 1000", wantErrno(unix.ENOSYS, raw(1000)))
	report("personality(ADDR_NO_RANDOMIZE)", wantErrno(unix.EPERM, raw(unix.SYS_PERSONALITY, 0x0040000 /* ADDR_NO_RANDOMIZE */)))
	report("personality(query)", raw(unix.SYS_PERSONALITY, 0xffffffff))

	// TSYNC: another goroutine locked to another OS thread must be filtered too.
	mainTid := unix.Gettid()
	ch := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if unix.Gettid() == mainTid {
			ch <- errors.New("same thread")
			return
		}
		if err := wantErrno(unix.EPERM, unix.Unshare(unix.CLONE_NEWNS)); err != nil {
			ch <- fmt.Errorf("unshare on thread %d: %w", unix.Gettid(), err)
			return
		}
		ch <- nil
	}()
	report("other thread", <-ch)
	report("all threads", allThreadsFiltered())

	// i386: a static 32-bit probe inherits the filter across execve.
	out, err := exec.Command(i386).Output()
	var ee *exec.Error
	switch {
	case errors.As(err, &ee), errors.Is(err, unix.ENOEXEC):
		fmt.Printf("RESULT i386: skip (no IA32 emulation: %v)\n", err)
	case err != nil:
		report("i386", fmt.Errorf("probe: %v", err))
	case len(out) != 20:
		report("i386", fmt.Errorf("probe wrote %d bytes", len(out)))
	default:
		// The probe pushed its results, so they come out in reverse order.
		v := func(i int) int32 { return int32(binary.LittleEndian.Uint32(out[4*(4-i):])) }
		getpid, keyctl, unshare, nr1000, personality := v(0), v(1), v(2), v(3), v(4)
		var errs []error
		if getpid <= 0 {
			errs = append(errs, fmt.Errorf("getpid = %d", getpid))
		}
		if keyctl != -int32(unix.EPERM) {
			errs = append(errs, fmt.Errorf("keyctl = %d, want -EPERM", keyctl))
		}
		if unshare != -int32(unix.EPERM) {
			errs = append(errs, fmt.Errorf("unshare = %d, want -EPERM", unshare))
		}
		if nr1000 != -int32(unix.ENOSYS) {
			errs = append(errs, fmt.Errorf("nr 1000 = %d, want -ENOSYS", nr1000))
		}
		if personality < 0 {
			errs = append(errs, fmt.Errorf("personality(query) = %d", personality))
		}
		report("i386", errors.Join(errs...))
	}
	fmt.Println("RESULT done: ok")
}

// allThreadsFiltered checks /proc/self/task/*/status for "Seccomp: 2" (filter mode).
func allThreadsFiltered() error {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) < 2 {
		return fmt.Errorf("%d threads: %v", len(tasks), err)
	}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte("\nSeccomp:\t2\n")) {
			return fmt.Errorf("%s: not in seccomp filter mode", p)
		}
	}
	return nil
}

// i386Probe returns a minimal static ELF32 i386 program that makes five syscalls through
// int 0x80, pushes each result, writes the 20 bytes to stdout and exits 0:
// getpid, keyctl(0), unshare(CLONE_NEWNS), nr 1000, personality(0xffffffff).
func i386Probe() []byte {
	le := binary.LittleEndian
	imm := func(op byte, v uint32) []byte { return le.AppendUint32([]byte{op}, v) }
	var code []byte
	add := func(b ...[]byte) {
		for _, x := range b {
			code = append(code, x...)
		}
	}
	int80, push := []byte{0xcd, 0x80}, []byte{0x50}
	add(imm(0xb8, 20), int80, push)                                           // getpid
	add(imm(0xb8, 288), []byte{0x31, 0xdb}, int80, push)                      // keyctl(0)
	add(imm(0xb8, 310), imm(0xbb, 0x20000), int80, push)                      // unshare(CLONE_NEWNS)
	add(imm(0xb8, 1000), int80, push)                                         // nr 1000
	add(imm(0xb8, 136), imm(0xbb, 0xffffffff), int80, push)                   // personality(query)
	add([]byte{0x89, 0xe1}, imm(0xba, 20), imm(0xbb, 1), imm(0xb8, 4), int80) // write(1, esp, 20)
	add(imm(0xb8, 1), []byte{0x31, 0xdb}, int80)                              // exit(0)

	const base, hdr = 0x08048000, 52 + 32
	size := uint32(hdr + len(code))
	b := []byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = le.AppendUint16(b, 2)        // ET_EXEC
	b = le.AppendUint16(b, 3)        // EM_386
	b = le.AppendUint32(b, 1)        // EV_CURRENT
	b = le.AppendUint32(b, base+hdr) // entry
	b = le.AppendUint32(b, 52)       // phoff
	b = le.AppendUint32(b, 0)        // shoff
	b = le.AppendUint32(b, 0)        // flags
	b = le.AppendUint16(b, 52)       // ehsize
	b = le.AppendUint16(b, 32)       // phentsize
	b = le.AppendUint16(b, 1)        // phnum
	b = le.AppendUint16(b, 0)        // shentsize
	b = le.AppendUint16(b, 0)        // shnum
	b = le.AppendUint16(b, 0)        // shstrndx
	b = le.AppendUint32(b, 1)        // PT_LOAD
	b = le.AppendUint32(b, 0)        // offset
	b = le.AppendUint32(b, base)     // vaddr
	b = le.AppendUint32(b, base)     // paddr
	b = le.AppendUint32(b, size)     // filesz
	b = le.AppendUint32(b, size)     // memsz
	b = le.AppendUint32(b, 5)        // PF_R|PF_X
	b = le.AppendUint32(b, 0x1000)   // align
	return append(b, code...)
}
