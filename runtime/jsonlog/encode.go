package jsonlog

import (
	"time"
	"unicode/utf8"
)

// appendEntry appends one log entry in exactly the bytes Docker's json-file
// driver writes: fields in the order log, stream, time, each omitted like
// Docker omits them (log and stream when empty; time never), then "\n".
// Byte-equality matters because other tools (and Docker itself, if a user
// copies a file around) parse these files.
func appendEntry(dst []byte, log []byte, stream string, t time.Time) []byte {
	dst = append(dst, '{')
	sep := false
	if len(log) > 0 {
		dst = append(dst, `"log":`...)
		dst = appendJSONString(dst, log)
		sep = true
	}
	if stream != "" {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"stream":`...)
		dst = appendJSONString(dst, []byte(stream))
		sep = true
	}
	if sep {
		dst = append(dst, ',')
	}
	dst = append(dst, `"time":"`...)
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `"}`...)
	return append(dst, '\n')
}

// appendJSONString quotes s the way Docker's jsonlog encoder does, which
// differs from encoding/json: only \n and \r get short escapes (tab is
// \u0009, not \t), other control bytes and <, >, & become \u00xx, each byte
// of invalid UTF-8 becomes \ufffd, and U+2028/U+2029 are escaped. DEL and
// valid non-ASCII text are written as they are.
func appendJSONString(dst []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
