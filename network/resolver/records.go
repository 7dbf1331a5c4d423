// Package resolver is berth's embedded DNS, Docker's 127.0.0.11: the record
// files that say which names each network knows, and the server that a
// container's monitor runs inside the container's network namespace.
//
// The CLI owns the record files: one JSON file per network, rewritten with
// Update under a file lock whenever a container joins or leaves. A Server
// never writes them; its Table rereads a file when it changes on disk, so
// no signal or socket connects the CLI to the monitors.
//
// The package answers and forwards queries and writes resolv.conf text. It
// must not enter namespaces, open listening sockets (the caller hands them
// to Serve) or touch the firewall; and it does no logging.
package resolver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
)

// Entry is one container's endpoint on a network.
type Entry struct {
	// ID is the full container id. Required.
	ID string `json:"id"`
	// Names are the names the container answers to on this network: in
	// Docker's order the container name, the aliases (compose sends the
	// service name among them), the short id and the hostname. Names[0]
	// answers PTR queries, so it should be the container name, as in Docker.
	Names []string `json:"names"`
	// IPv4 and IPv6 are the endpoint's addresses; either may be the zero
	// Addr when the endpoint has none of that family.
	IPv4 netip.Addr `json:"ipv4,omitzero"`
	IPv6 netip.Addr `json:"ipv6,omitzero"`
}

// NetworkRecords is the content of one network's record file.
type NetworkRecords struct {
	// Network is the network's full name (compose's "<project>_<name>"):
	// "<name>.<Network>" resolves only on this network, and PTR answers end
	// in it.
	Network string `json:"network"`
	// Internal records that the network has no external access. The Server
	// does not read it; the caller decides Config.NoForward.
	Internal bool    `json:"internal,omitempty"`
	Entries  []Entry `json:"entries"`
}

// Read returns the records stored at path. A missing file gives an error
// that matches fs.ErrNotExist.
func Read(path string) (NetworkRecords, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return NetworkRecords{}, fmt.Errorf("dns records: %w", err)
	}
	return parseRecords(path, b)
}

func parseRecords(path string, b []byte) (NetworkRecords, error) {
	var r NetworkRecords
	if err := json.Unmarshal(b, &r); err != nil {
		return NetworkRecords{}, fmt.Errorf("dns records %s: %w", path, err)
	}
	return r, nil
}

// Update changes the records at path with f, holding an exclusive flock on
// path+".lock" from the read to the write, so concurrent updates from any
// number of processes are serialized and none is lost. A missing file
// starts as empty records. If f returns an error nothing is written. The
// new content replaces the file atomically (temp file in the same
// directory, fsync, rename), so readers never take the lock and never see
// a partial file. The lock file is left in place: removing it would let two
// writers lock different inodes.
func Update(path string, f func(*NetworkRecords) error) error {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("dns records %s: %w", path, err)
	}
	defer unlock()

	r, err := Read(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := f(&r); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return fmt.Errorf("dns records %s: %w", path, err)
	}
	if err := writeAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("dns records %s: %w", path, err)
	}
	return nil
}

func writeAtomic(path string, b []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	// Monitors run as root, but the files are handy to read as anyone.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
