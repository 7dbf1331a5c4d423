package monitor

import (
	"encoding/binary"
	"fmt"
	"io"
)

// An attach connection carries frames after its JSON request and response:
// an 8-byte header (kind, three zero bytes, big-endian payload length, the
// layout of Docker's multiplexed attach stream) and the payload.
const (
	frameStdin  byte = 0 // client to monitor: input for the container
	frameStdout byte = 1 // monitor to client: output
	frameStderr byte = 2
	frameResize byte = 3 // client to monitor: height, width (uint16 each)
	frameClose  byte = 4 // client to monitor: end of input
	frameExit   byte = 5 // monitor to client: the final State as JSON, last frame

	frameHeader = 8
	// maxFrame bounds a payload: output is read in chunks of at most this.
	maxFrame = 32 << 10
)

func encodeFrame(kind byte, p []byte) []byte {
	b := make([]byte, frameHeader+len(p))
	b[0] = kind
	binary.BigEndian.PutUint32(b[4:], uint32(len(p)))
	copy(b[frameHeader:], p)
	return b
}

// readFrame reads one frame into buf (grown as needed) and returns its kind
// and payload, which is valid until the next call.
func readFrame(r io.Reader, buf []byte) (byte, []byte, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach: frame of %d bytes, the limit is %d", n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return h[0], buf, nil
}
