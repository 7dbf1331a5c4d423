package network

import (
	"path/filepath"

	"github.com/berth-sh/berth/events"
)

// event records a network event (create, destroy, connect, disconnect) in
// the state root's journal, as Docker's daemon: the network's id, its name
// and driver, and more attributes in pairs (the container of a connect).
// A failure to write it loses the event and nothing else.
func (s *Store) event(n *Network, action string, extra ...string) {
	driver := n.Driver
	if driver == "" {
		driver = "bridge"
	}
	attrs := map[string]string{"name": n.Name, "type": driver}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	_ = events.Append(filepath.Dir(s.dir), events.Event{
		Type: events.TypeNetwork, Action: action, Actor: events.Actor{ID: n.ID, Attributes: attrs},
	})
}
