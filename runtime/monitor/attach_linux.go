package monitor

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// clientQueue is how many output frames an attached client may lag
	// behind before it is dropped: the container never waits for a client.
	clientQueue = 1024
	// replayLimit bounds the output held for the first client (AttachReplay).
	replayLimit = 1 << 20
	// frameWriteTimeout bounds one write to a client that stopped reading.
	frameWriteTimeout = 10 * time.Second
)

// hub fans the container's output out to attached clients and takes their
// input to the container's stdin.
type hub struct {
	mu      sync.Mutex
	clients map[*attachClient]struct{}
	// replay holds output frames until the first attach (AttachReplay).
	replay     [][]byte
	replaySize int
	replaying  bool
	// exit is the final frame once the container is done; attaches after
	// that get it at once.
	exit []byte
	// attached is closed by the first attach.
	attached     chan struct{}
	attachedOnce sync.Once

	stdinMu   sync.Mutex
	stdin     *os.File // the stdin pipe's write end, or the pty master
	tty       bool
	stdinOnce bool
	stdinUsed bool // a client attached stdin (StdinOnce)
}

type attachClient struct {
	out chan []byte
}

func newHub(replay bool) *hub {
	return &hub{clients: map[*attachClient]struct{}{}, replaying: replay, attached: make(chan struct{})}
}

// output records one chunk of the container's output for the clients.
func (h *hub) output(stream string, p []byte) {
	kind := frameStdout
	if stream == "stderr" {
		kind = frameStderr
	}
	f := encodeFrame(kind, p)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.replaying {
		if h.replaySize+len(f) <= replayLimit {
			h.replay = append(h.replay, f)
			h.replaySize += len(f)
		}
		return
	}
	for c := range h.clients {
		select {
		case c.out <- f:
		default:
			// Too far behind: the client loses the stream rather than the
			// container blocking on it.
			close(c.out)
			delete(h.clients, c)
		}
	}
}

// begin starts a run: clients that attach from now on get its output.
func (h *hub) begin() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.exit = nil
	h.stdinMu.Lock()
	h.stdinUsed = false
	h.stdinMu.Unlock()
}

// end ends a run: its clients get st as their last frame (a restart
// policy may start another run, which they are not attached to).
func (h *hub) end(st State) { h.finish(st) }

// finish sends st as the last frame to every client and ends their streams.
func (h *hub) finish(st State) {
	b, _ := json.Marshal(st)
	f := encodeFrame(frameExit, b)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.exit = f
	for c := range h.clients {
		select {
		case c.out <- f:
		default: // too far behind to be told
		}
		close(c.out)
		delete(h.clients, c)
	}
}

// add registers a client, giving it the held output first.
func (h *hub) add() *attachClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attachedOnce.Do(func() { close(h.attached) })
	c := &attachClient{out: make(chan []byte, clientQueue+len(h.replay)+1)}
	if h.replaying {
		for _, f := range h.replay {
			c.out <- f
		}
		h.replay, h.replaySize, h.replaying = nil, 0, false
	}
	if h.exit != nil {
		c.out <- h.exit
		close(c.out)
		return c
	}
	h.clients[c] = struct{}{}
	return c
}

func (h *hub) remove(c *attachClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.out)
	}
}

// setStdin installs where attached input goes.
func (h *hub) setStdin(f *os.File, tty, once bool) {
	h.stdinMu.Lock()
	defer h.stdinMu.Unlock()
	h.stdin, h.tty, h.stdinOnce = f, tty, once
}

func (h *hub) writeStdin(p []byte) {
	h.stdinMu.Lock()
	f := h.stdin
	h.stdinMu.Unlock()
	if f != nil {
		// A container that exited or closed its stdin: the input is lost,
		// as it would be on a closed pipe.
		_, _ = f.Write(p)
	}
}

// closeStdin ends the container's input (a pipe only: a pty stays, its
// master also carries the output).
func (h *hub) closeStdin() {
	h.stdinMu.Lock()
	defer h.stdinMu.Unlock()
	if h.stdin != nil && !h.tty {
		h.stdin.Close()
		h.stdin = nil
	}
}

func (h *hub) resize(height, width uint16) {
	h.stdinMu.Lock()
	defer h.stdinMu.Unlock()
	if h.stdin != nil && h.tty && height > 0 && width > 0 {
		_ = unix.IoctlSetWinsize(int(h.stdin.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
	}
}

// attach serves one attach connection: output frames out, input frames in,
// until the exit frame is written or the client goes. It reports whether
// the client received the exit frame.
func (h *hub) attach(conn *net.UnixConn, r io.Reader, withStdin bool) bool {
	c := h.add()
	if withStdin {
		h.stdinMu.Lock()
		first := !h.stdinUsed
		h.stdinUsed = true
		h.stdinMu.Unlock()
		go h.readInput(r, c, first && h.stdinOnce)
	} else {
		go h.readInput(r, c, false)
	}
	gotExit := false
	for f := range c.out {
		_ = conn.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
		if _, err := conn.Write(f); err != nil {
			h.remove(c)
			// Drain so that output never blocks on this client.
			for range c.out {
			}
			return false
		}
		if f[0] == frameExit {
			gotExit = true
		}
	}
	return gotExit
}

// readInput takes the client's frames until it hangs up; a client that
// owned stdin once closes it when it goes (StdinOnce).
func (h *hub) readInput(r io.Reader, c *attachClient, once bool) {
	var buf []byte
	defer func() {
		if once {
			h.closeStdin()
		}
	}()
	for {
		kind, p, err := readFrame(r, buf)
		if err != nil {
			// The client hung up (or the stream ended): no more output for it.
			h.remove(c)
			return
		}
		buf = p[:0]
		switch kind {
		case frameStdin:
			h.writeStdin(p)
		case frameClose:
			h.closeStdin()
		case frameResize:
			if len(p) == 4 {
				h.resize(binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]))
			}
		}
	}
}
