package jsonlog

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	units "github.com/docker/go-units"
)

// Options configures a Writer.
type Options struct {
	// MaxSize is the size in bytes at which the current file is rotated;
	// 0 disables rotation (Docker's default: logs grow without bound).
	MaxSize int64
	// MaxFile is the number of files kept, the current one included.
	// 0 means 1. It only has an effect with MaxSize, as in Docker.
	MaxFile int
	// Compress asks for gzip of rotated files. berth does not implement it;
	// NewWriter rejects it rather than silently keeping files uncompressed.
	Compress bool
	// Now is the time source for entry timestamps; nil means time.Now.
	// Tests set it to get deterministic files.
	Now func() time.Time
}

// errCompress is returned for compress=true: a clear refusal beats logs that
// silently take more disk than the user configured for.
var errCompress = errors.New("compress is not supported")

// ParseOptions reads compose `logging.options` for the json-file driver, with
// Docker's parsing and messages: max-size goes through go-units FromHumanSize
// (decimal: "10m" is 10,000,000 bytes, exactly what dockerd does) and must be
// positive; max-file is an integer >= 1. As in Docker, max-file without
// max-size is accepted and has no effect. Keys Docker accepts but berth does
// not implement (labels, env, tag, ...) are refused by name, as are unknown
// keys, so a compose file never silently loses a setting.
func ParseOptions(opts map[string]string) (Options, error) {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	// Sorted so that the error for several bad keys is stable.
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "max-size", "max-file", "compress":
		case "labels", "labels-regex", "env", "env-regex", "tag":
			return Options{}, fmt.Errorf("log opt '%s' for json-file log driver is not supported by berth", k)
		default:
			return Options{}, fmt.Errorf("unknown log opt '%s' for json-file log driver", k)
		}
	}
	o := Options{MaxFile: 1}
	if s, ok := opts["max-size"]; ok {
		n, err := units.FromHumanSize(s)
		if err != nil {
			return Options{}, fmt.Errorf("log opt max-size: %w", err)
		}
		if n <= 0 {
			return Options{}, errors.New("max-size must be a positive number")
		}
		o.MaxSize = n
	}
	if s, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return Options{}, fmt.Errorf("log opt max-file: %w", err)
		}
		if n < 1 {
			return Options{}, errors.New("max-file cannot be less than 1")
		}
		o.MaxFile = n
	}
	if s, ok := opts["compress"]; ok {
		c, err := strconv.ParseBool(s)
		if err != nil {
			return Options{}, fmt.Errorf("log opt compress: %w", err)
		}
		if c {
			// Docker's own check first, so a config Docker would reject
			// gets Docker's message.
			if o.MaxFile == 1 || o.MaxSize == 0 {
				return Options{}, errors.New("compress cannot be true when max-file is less than 2 or max-size is not set")
			}
			return Options{}, fmt.Errorf("log opt compress: %w", errCompress)
		}
	}
	return o, nil
}

// validate checks Options given directly to NewWriter and fills defaults.
func (o Options) validate() (Options, error) {
	if o.Compress {
		return o, errCompress
	}
	if o.MaxSize < 0 {
		return o, fmt.Errorf("max-size %d must not be negative", o.MaxSize)
	}
	if o.MaxFile < 0 {
		return o, fmt.Errorf("max-file %d cannot be less than 1", o.MaxFile)
	}
	if o.MaxFile == 0 {
		o.MaxFile = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
