package volumes

import (
	"path/filepath"

	"github.com/berth-sh/berth/events"
)

// event records a volume event (create, destroy, mount, unmount) in the
// state root's journal, as Docker's daemon: the volume's name, its driver,
// and more attributes in pairs (the container of a mount). A failure to
// write it loses the event and nothing else.
func (s *Store) event(v *Volume, action string, extra ...string) {
	attrs := map[string]string{"driver": v.Driver}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	_ = events.Append(filepath.Dir(s.dir), events.Event{
		Type: events.TypeVolume, Action: action, Actor: events.Actor{ID: v.Name, Attributes: attrs},
	})
}
