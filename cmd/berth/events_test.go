package main

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/berth-sh/berth/events"
)

func TestPrintEvents(t *testing.T) {
	at := time.Date(2026, 11, 27, 14, 0, 0, 123456789, time.Local)
	e := events.Event{Type: "container", Action: "die", Time: at.Unix(), TimeNano: at.UnixNano(), Scope: "local",
		Actor: events.Actor{ID: "abc", Attributes: map[string]string{
			"name": "proj-web-1", "image": "bb:1", "exitCode": "0", "com.docker.compose.service": "web",
		}}}
	zone := at.Format("Z07:00")
	for _, tc := range []struct {
		name, format, want string
	}{
		{"docker line", "", "2026-11-27T14:00:00.123456789" + zone + " container die abc (com.docker.compose.service=web, exitCode=0, image=bb:1, name=proj-web-1)\n"},
		{"json", "json", `{"Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"com.docker.compose.service":"web","exitCode":"0","image":"bb:1","name":"proj-web-1"}},"scope":"local","time":` + strconv.FormatInt(at.Unix(), 10) + `,"timeNano":` + strconv.FormatInt(at.UnixNano(), 10) + "}\n"},
		{"template", "{{.Action}} {{.Actor.Attributes.exitCode}} {{upper .Type}}", "die 0 CONTAINER\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := eventTemplate(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := printEvent(&b, e, tmpl); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got  %s\nwant %s", b.String(), tc.want)
			}
		})
	}
	if _, err := eventTemplate("{{.Nope}}"); err == nil {
		t.Error("a template naming no field was accepted")
	}

	var b bytes.Buffer
	if err := printComposeEvent(&b, e, "web", false); err != nil {
		t.Fatal(err)
	}
	if want := "2026-11-27 14:00:00.123456 container die abc (exitCode=0, image=bb:1, name=proj-web-1)\n"; b.String() != want {
		t.Errorf("compose line:\n got %s\nwant %s", b.String(), want)
	}
	b.Reset()
	if err := printComposeEvent(&b, e, "web", true); err != nil {
		t.Fatal(err)
	}
	want := `{"action":"die","attributes":{"exitCode":"0","image":"bb:1","name":"proj-web-1"},"id":"abc","service":"web","time":"` + at.Format(time.RFC3339Nano) + `","type":"container"}` + "\n"
	if b.String() != want {
		t.Errorf("compose json:\n got %s\nwant %s", b.String(), want)
	}
}
