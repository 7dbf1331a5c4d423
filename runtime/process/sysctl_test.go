package process

import (
	"strings"
	"testing"
)

func TestCheckSysctls(t *testing.T) {
	tests := []struct {
		key     string
		ns      Namespaces
		wantErr string
	}{
		{key: "kernel.msgmax"},
		{key: "kernel.msgmnb"},
		{key: "kernel.msgmni"},
		{key: "kernel.sem"},
		{key: "kernel.shmall"},
		{key: "kernel.shmmax"},
		{key: "kernel.shmmni"},
		{key: "kernel.shm_rmid_forced"},
		{key: "fs.mqueue.msg_max"},
		{key: "net.ipv4.ip_forward"},
		{key: "net.core.somaxconn"},
		{key: "net/ipv4/ip_unprivileged_port_start"},
		{key: "net/ipv4/conf/eth0.100/forwarding"},
		{key: "net.ipv4.conf.eth0/100.forwarding", wantErr: "is not in a separate kernel namespace"},
		{key: "kernel/sem"},
		{key: "fs/mqueue/msg_max"},
		{key: "fs.mqueue", wantErr: "is not in a separate kernel namespace"},
		{key: "kernel.domainname"},
		{key: "kernel.shmmax", ns: Namespaces{HostNetwork: true}},
		{key: "net.ipv4.ip_forward", ns: Namespaces{HostNetwork: true}, wantErr: `sysctl "net.ipv4.ip_forward" is not allowed in the hosts network namespace`},
		{key: "kernel.sem", ns: Namespaces{HostIPC: true}, wantErr: `sysctl "kernel.sem" is not allowed in the hosts ipc namespace`},
		{key: "fs.mqueue.queues_max", ns: Namespaces{HostIPC: true}, wantErr: "hosts ipc namespace"},
		{key: "kernel.hostname", wantErr: `sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field`},
		{key: "kernel.msgfoo", wantErr: `sysctl "kernel.msgfoo" is not in a separate kernel namespace`},
		{key: "kernel.pid_max", wantErr: `sysctl "kernel.pid_max" is not in a separate kernel namespace`},
		{key: "vm.swappiness", wantErr: "is not in a separate kernel namespace"},
		{key: "fs.file-max", wantErr: "is not in a separate kernel namespace"},
		{key: "network.x", wantErr: "is not in a separate kernel namespace"},
		{key: "net", wantErr: "is not in a separate kernel namespace"},
		{key: "net..ipv4", wantErr: "invalid name"},
		{key: "net/../../kernel/core_pattern", wantErr: "invalid name"},
		{key: "", wantErr: "invalid name"},
		{key: "net.", wantErr: "invalid name"},
	}
	for _, tt := range tests {
		err := CheckSysctlsIn(map[string]string{tt.key: "1"}, tt.ns)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%q %+v: %v", tt.key, tt.ns, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q %+v: err = %v, want %q", tt.key, tt.ns, err, tt.wantErr)
		}
	}
}

func TestCheckSysctlsReportsEveryKeySorted(t *testing.T) {
	err := CheckSysctls(map[string]string{"vm.b": "1", "net.ok": "1", "kernel.a": "1"}, false)
	if err == nil {
		t.Fatal("nil error")
	}
	want := "sysctl \"kernel.a\" is not in a separate kernel namespace\nsysctl \"vm.b\" is not in a separate kernel namespace"
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if err := CheckSysctls(map[string]string{"net.ipv4.ping_group_range": "0 1"}, true); err == nil {
		t.Error("net.* allowed with host network")
	}
	if err := CheckSysctls(nil, true); err != nil {
		t.Error(err)
	}
}
