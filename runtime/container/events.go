package container

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"path/filepath"
	"strings"

	"github.com/berth-sh/berth/events"
)

// The container's events (package events) as Docker's daemon records
// them. This package records what the CLI does: create, destroy, pause,
// unpause, restart and exec; the monitor records what happens to the
// running container: start, die, oom, kill, stop and health_status
// (monitor.Spec.EventsDir).

// stateRoot is the state root the container lives in ($ROOT of
// $ROOT/containers/<id>).
func (c *Container) stateRoot() string { return filepath.Dir(filepath.Dir(c.bundle)) }

// eventsDir is the journal of the container's state root.
func (c *Container) eventsDir() string { return events.Dir(c.stateRoot()) }

// eventAttributes are the attributes of the container's events: its
// labels, name and image as the user gave it, as Docker's.
func (c *Container) eventAttributes() map[string]string {
	attrs := make(map[string]string, len(c.Options.Labels)+2)
	maps.Copy(attrs, c.Options.Labels)
	attrs["name"] = c.Name
	attrs["image"] = c.Options.Image
	return attrs
}

// event records action in the state root's journal; extra are more
// attributes, in pairs. The journal records the operation and is no part
// of it: a failure to write it loses the event and nothing else.
func (c *Container) event(action string, extra ...string) {
	attrs := c.eventAttributes()
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	_ = events.Append(c.stateRoot(), events.Event{
		Type: events.TypeContainer, Action: action, Actor: events.Actor{ID: c.ID, Attributes: attrs},
	})
}

// execEvents records an exec that started: Docker's exec_create and
// exec_start, whose action carries the command. berth keeps no exec
// records; execID is made here only to tie the two together, as Docker's.
func (c *Container) execEvents(cmd []string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	what := cmd[0] + " " + strings.Join(cmd[1:], " ")
	c.event("exec_create: "+what, "execID", id)
	c.event("exec_start: "+what, "execID", id)
}
