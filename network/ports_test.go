package network

import (
	"strings"
	"testing"
)

func TestParsePorts(t *testing.T) {
	got, err := ParsePorts([]string{"8080:80", "127.0.0.1:3000:3000", "53:53/udp", "9000", "127.0.0.1::22", "8000-8001:80-81", "9000-9010:90"})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	want := "80/tcp -> 0.0.0.0:8080, 3000/tcp -> 127.0.0.1:3000, 53/udp -> 0.0.0.0:53, 9000/tcp -> 0.0.0.0:0, 22/tcp -> 127.0.0.1:0, 80/tcp -> 0.0.0.0:8000, 81/tcp -> 0.0.0.0:8001, 90/tcp -> 0.0.0.0:9000-9010"
	if strings.Join(s, ", ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(s, ", "), want)
	}
	for _, bad := range []string{"8080:80/sctp", "x:80", "80:99999", "1.2.3.4.5:80:80", "8010-8000:80"} {
		if _, err := ParsePorts([]string{bad}); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
}
