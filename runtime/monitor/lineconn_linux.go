package monitor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/scm"
)

// maxPassedFiles bounds the descriptors one line may carry (an exec's stdio).
const maxPassedFiles = 4

// lineConn reads and writes newline-terminated JSON lines on a unix stream
// connection, with the descriptors sent along (SCM_RIGHTS).
type lineConn struct {
	conn *net.UnixConn
	buf  []byte // read past the last line
}

// readLine returns the next line (without its newline) and the descriptors
// that arrived while it was read; a line longer than limit is an error.
func (l *lineConn) readLine(limit int) ([]byte, []*os.File, error) {
	var files []*os.File
	p := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(maxPassedFiles*4))
	for {
		if i := bytes.IndexByte(l.buf, '\n'); i >= 0 {
			line := l.buf[:i]
			l.buf = l.buf[i+1:]
			return line, files, nil
		}
		if len(l.buf) > limit {
			closeFiles(files)
			return nil, nil, fmt.Errorf("a line of more than %d bytes", limit)
		}
		n, oobn, _, _, err := l.conn.ReadMsgUnix(p, oob)
		if oobn > 0 {
			files = append(files, scm.Files(oob[:oobn])...)
		}
		l.buf = append(l.buf, p[:n]...)
		if err != nil {
			if n > 0 && !errors.Is(err, io.EOF) {
				continue
			}
			closeFiles(files)
			if errors.Is(err, io.EOF) && len(l.buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
		if n == 0 && oobn == 0 {
			closeFiles(files)
			return nil, nil, io.EOF
		}
	}
}

// rest is what follows the last line read: the buffered bytes, then the
// connection.
func (l *lineConn) rest() io.Reader {
	return io.MultiReader(bytes.NewReader(l.buf), l.conn)
}

// writeLine writes b and a newline, with files attached.
func (l *lineConn) writeLine(b []byte, files ...*os.File) error {
	_, _, err := l.conn.WriteMsgUnix(append(b, '\n'), scm.Rights(files...), nil)
	return err
}

func closeFiles(files []*os.File) { scm.Close(files) }
