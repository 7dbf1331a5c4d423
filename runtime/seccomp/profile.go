package seccomp

import (
	"encoding/json"
	"fmt"
	"os"

	mobyseccomp "github.com/moby/profiles/seccomp"
)

// LoadProfile reads a JSON seccomp profile in Docker's format (the file of
// `security_opt: seccomp=FILE`). Besides JSON errors it reports what Compile would reject on any
// host (unknown actions or operators, argument indices, name and names both set), naming the
// file, so a bad profile fails at load time rather than at container start.
func LoadProfile(path string) (*mobyseccomp.Seccomp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp: reading profile: %w", err)
	}
	var p mobyseccomp.Seccomp
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("seccomp: profile %s: invalid JSON: %w", path, err)
	}
	if err := check(&p); err != nil {
		return nil, fmt.Errorf("seccomp: profile %s: %w", path, err)
	}
	return &p, nil
}

// check validates what doesn't depend on capabilities, kernel or host.
func check(p *mobyseccomp.Seccomp) error {
	if p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return fmt.Errorf("no defaultAction and no syscalls (use seccomp=unconfined to disable seccomp)")
	}
	if _, err := convertAction(p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return fmt.Errorf("defaultAction: %w", err)
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return fmt.Errorf("both architectures and archMap are set")
	}
	for i, s := range p.Syscalls {
		if s == nil {
			continue
		}
		names, err := syscallNames(i, s)
		if err != nil {
			return err
		}
		if _, err := convertRule(s.LinuxSyscall, names); err != nil {
			return fmt.Errorf("syscalls[%d] %v: %w", i, names, err)
		}
	}
	return nil
}

// syscallNames is a rule's syscall names: `names`, or the single `name` old profiles still use.
func syscallNames(i int, s *mobyseccomp.Syscall) ([]string, error) {
	//lint:ignore SA1019 old profiles still use name; berth loads them as Docker does
	if s.Name == "" {
		return s.Names, nil
	}
	if len(s.Names) != 0 {
		return nil, fmt.Errorf("syscalls[%d]: both name and names are set", i)
	}
	//lint:ignore SA1019 see above
	return []string{s.Name}, nil
}
