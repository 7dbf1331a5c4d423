package jsonlog

import (
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	cases := []struct {
		in      map[string]string
		want    Options
		wantErr string
	}{
		{in: nil, want: Options{MaxFile: 1}},
		{in: map[string]string{"max-size": "10m"}, want: Options{MaxSize: 10_000_000, MaxFile: 1}},
		{in: map[string]string{"max-size": "1g", "max-file": "3"}, want: Options{MaxSize: 1_000_000_000, MaxFile: 3}},
		{in: map[string]string{"max-size": "100k"}, want: Options{MaxSize: 100_000, MaxFile: 1}},
		{in: map[string]string{"max-size": "1.5m"}, want: Options{MaxSize: 1_500_000, MaxFile: 1}},
		{in: map[string]string{"max-size": "512"}, want: Options{MaxSize: 512, MaxFile: 1}},
		// Docker accepts max-file alone; it has no effect without max-size.
		{in: map[string]string{"max-file": "5"}, want: Options{MaxFile: 5}},
		{in: map[string]string{"max-size": "1m", "compress": "false"}, want: Options{MaxSize: 1_000_000, MaxFile: 1}},
		{in: map[string]string{"max-size": "abc"}, wantErr: "invalid size: 'abc'"},
		{in: map[string]string{"max-size": "0"}, wantErr: "max-size must be a positive number"},
		{in: map[string]string{"max-size": "-5m"}, wantErr: "max-size"},
		{in: map[string]string{"max-file": "x"}, wantErr: `max-file: strconv.Atoi: parsing "x"`},
		{in: map[string]string{"max-file": "0"}, wantErr: "max-file cannot be less than 1"},
		{in: map[string]string{"compress": "true"}, wantErr: "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{in: map[string]string{"compress": "true", "max-size": "1m", "max-file": "2"}, wantErr: "compress is not supported"},
		{in: map[string]string{"compress": "maybe"}, wantErr: "compress: strconv.ParseBool"},
		{in: map[string]string{"max-age": "1d"}, wantErr: "unknown log opt 'max-age' for json-file log driver"},
		{in: map[string]string{"tag": "{{.Name}}"}, wantErr: "log opt 'tag' for json-file log driver is not supported by berth"},
	}
	for _, c := range cases {
		got, err := ParseOptions(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseOptions(%v) error %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got.MaxSize != c.want.MaxSize || got.MaxFile != c.want.MaxFile || got.Compress {
			t.Errorf("ParseOptions(%v) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}
