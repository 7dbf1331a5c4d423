package process

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseUlimit(t *testing.T) {
	tests := []struct {
		in      string
		want    Rlimit
		wantErr string
	}{
		{in: "nofile=1024:2048", want: Rlimit{"nofile", 7, 1024, 2048}},
		{in: "nofile=1024", want: Rlimit{"nofile", 7, 1024, 1024}},
		{in: "nproc=-1", want: Rlimit{"nproc", 6, Infinity, Infinity}},
		{in: "core=-1:-1", want: Rlimit{"core", 4, Infinity, Infinity}},
		{in: "core=0:-1", want: Rlimit{"core", 4, 0, Infinity}},
		{in: "memlock=unlimited", want: Rlimit{"memlock", 8, Infinity, Infinity}},
		{in: "stack=8192:unlimited", want: Rlimit{"stack", 3, 8192, Infinity}},
		{in: "rtprio=0", want: Rlimit{"rtprio", 14, 0, 0}},
		{in: "cpu=1", want: Rlimit{"cpu", 0, 1, 1}},
		{in: "fsize=1", want: Rlimit{"fsize", 1, 1, 1}},
		{in: "data=1", want: Rlimit{"data", 2, 1, 1}},
		{in: "rss=1", want: Rlimit{"rss", 5, 1, 1}},
		{in: "locks=1", want: Rlimit{"locks", 10, 1, 1}},
		{in: "sigpending=1", want: Rlimit{"sigpending", 11, 1, 1}},
		{in: "msgqueue=1", want: Rlimit{"msgqueue", 12, 1, 1}},
		{in: "nice=1", want: Rlimit{"nice", 13, 1, 1}},
		{in: "rttime=1", want: Rlimit{"rttime", 15, 1, 1}},
		{in: "nofile", wantErr: "invalid ulimit argument: nofile"},
		{in: "bogus=1", wantErr: "invalid ulimit type: bogus"},
		{in: "NOFILE=1", wantErr: "invalid ulimit type: NOFILE"},
		{in: "nofile=1:2:3", wantErr: "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"},
		{in: "nofile=2048:1024", wantErr: "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"},
		{in: "nofile=-1:1024", wantErr: "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1024"},
		{in: "nofile=abc", wantErr: `invalid ulimit value "abc" for nofile`},
		{in: "nofile=1:abc", wantErr: `invalid ulimit value "abc" for nofile`},
		{in: "nofile=", wantErr: `invalid ulimit value "" for nofile`},
		{in: "nofile=-2", wantErr: "invalid ulimit value -2 for nofile"},
		{in: "nofile=99999999999999999999", wantErr: "value out of range"},
	}
	for _, tt := range tests {
		got, err := ParseUlimit(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseUlimit(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseUlimit(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestRlimitString(t *testing.T) {
	for in, want := range map[string]string{
		"nofile=1024":       "nofile=1024:1024",
		"core=-1":           "core=-1:-1",
		"stack=1:unlimited": "stack=1:-1",
	} {
		r, err := ParseUlimit(in)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != want {
			t.Errorf("%q.String() = %q, want %q", in, r.String(), want)
		}
	}
}

func TestComposeUlimit(t *testing.T) {
	tests := []struct {
		name               string
		single, soft, hard int
		want               Rlimit
		wantErr            string
	}{
		{name: "nproc", single: 65535, want: Rlimit{"nproc", 6, 65535, 65535}},
		{name: "nofile", soft: 20000, hard: 40000, want: Rlimit{"nofile", 7, 20000, 40000}},
		{name: "nofile", single: -1, want: Rlimit{"nofile", 7, Infinity, Infinity}},
		{name: "nofile", soft: 40000, hard: 20000, wantErr: "ulimits.nofile: ulimit soft limit must be less than or equal to hard limit: 40000 > 20000"},
		{name: "bogus", single: 1, wantErr: "ulimits.bogus: invalid ulimit type: bogus"},
	}
	for _, tt := range tests {
		got, err := ComposeUlimit(tt.name, tt.single, tt.soft, tt.hard)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ComposeUlimit(%s) err = %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ComposeUlimit(%s) = %+v, %v", tt.name, got, err)
		}
	}
}

func TestCheckUlimits(t *testing.T) {
	host := func(resource int) (unix.Rlimit, error) {
		switch resource {
		case 7: // nofile
			return unix.Rlimit{Cur: 1024, Max: 4096}, nil
		case 4: // core
			return unix.Rlimit{Cur: Infinity, Max: Infinity}, nil
		}
		return unix.Rlimit{}, errors.New("no such limit")
	}
	mustParse := func(s string) Rlimit {
		r, err := ParseUlimit(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		in      string
		wantErr string
	}{
		{"nofile=1024:4096", ""},
		{"nofile=2048:2048", ""},
		{"nofile=4096:8192", "ulimit nofile: hard limit 8192 is above the host's hard limit 4096; raising a hard limit needs CAP_SYS_RESOURCE"},
		{"nofile=-1", "ulimit nofile: hard limit unlimited is above the host's hard limit 4096"},
		{"core=-1", ""},
		{"nproc=10", "ulimit nproc: read the host limit: no such limit"},
	}
	for _, tt := range tests {
		err := CheckUlimits([]Rlimit{mustParse(tt.in)}, host)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("CheckUlimits(%s) = %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckUlimits(%s) = %v, want one line with %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestCheckUlimitsPrivileged(t *testing.T) {
	const nrOpen = 1048576
	ok := []string{"nofile=1048576", "nofile=1024:2048", "nproc=-1", "core=-1"}
	for _, s := range ok {
		r, _ := ParseUlimit(s)
		if err := CheckUlimitsPrivileged([]Rlimit{r}, nrOpen); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for s, want := range map[string]string{
		"nofile=1048577": "ulimit nofile: hard limit 1048577 is above the host's fs.nr_open 1048576",
		"nofile=-1":      "ulimit nofile: hard limit unlimited is above the host's fs.nr_open 1048576",
	} {
		r, _ := ParseUlimit(s)
		if err := CheckUlimitsPrivileged([]Rlimit{r}, nrOpen); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", s, err, want)
		}
	}
}

func TestHostLimitsReadable(t *testing.T) {
	n, err := NrOpen()
	if errors.Is(err, errors.ErrUnsupported) || (err != nil && strings.Contains(err.Error(), "no such file")) {
		t.Skipf("no /proc/sys/fs/nr_open here: %v", err)
	}
	if err != nil || n < 1024 {
		t.Fatalf("NrOpen = %d, %v", n, err)
	}
	r, err := HostRlimit(7)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("HostRlimit is Linux-only")
	}
	if err != nil || r.Max == 0 || r.Max > n && r.Max != Infinity {
		t.Fatalf("HostRlimit(nofile) = %+v, %v (nr_open %d)", r, err, n)
	}
}
