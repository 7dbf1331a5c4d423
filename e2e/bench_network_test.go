//go:build linux

package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

// The network benchmarks take the figures of the side-by-side comparison with Docker
// (compare.sh: netprobe sends of 1000 MiB, 300 lookups of a container's name) on the same terms:
// Docker 20.10 measured 799 MiB/s to a published port on 127.0.0.1 through docker-proxy (raw
// loopback 1600 MiB/s), 1074 MiB/s from container to container, and 0.41 ms per DNS lookup.
const (
	// sendMiB is how much one measured send moves, as in compare.sh...
	sendMiB = 1000
	// ...unless the warm-up send (warmMiB) shows that it would take longer than sendBudget: an
	// iteration, which in the published sub-benchmark is two sends, stays under about 3 s.
	warmMiB    = 100
	sendBudget = 1400 * time.Millisecond
	// dnsLookups is how many lookups one iteration of BenchmarkNetworkDNS makes.
	dnsLookups = 300
	// The ports of the berth sub-benchmarks: they are in a network namespace of the benchmark's
	// own, where nothing else listens.
	publishedPort = 19000
	loopbackPort  = 19001
)

// BenchmarkNetworkThroughput reports the TCP throughput (MiB/s, the median of one send per
// iteration) of raw loopback, of a port berth publishes on 127.0.0.1 (nftables DNAT to the
// container), and from container to container on a berth network; beside them the same through
// Docker where a Docker engine answers. ns/op is one send, with the start of netprobe (and of the
// exec for container-to-container).
func BenchmarkNetworkThroughput(b *testing.B) {
	nb := newNetBench(b)
	probe, rootfs, berth, berthCleanup := nb.probe, nb.rootfs, nb.berth, nb.cleanup

	b.Run("loopback", func(b *testing.B) {
		inOwnNetNS(b) // on this goroutine: the sink and the sender share the benchmark's own lo
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(loopbackPort))
		hostSink(b, probe, addr)
		throughput(b, func(mib int) float64 { return hostSend(b, probe, addr, mib) })
	})
	b.Run("published", func(b *testing.B) {
		inOwnNetNS(b) // the default bridge and its DNAT rules go in the benchmark's own namespace
		// The run below makes the default network; it goes after the container.
		defer berthCleanup(b, "network", "rm", "bridge")
		nb.publishedBesideLoopback(b, "bridge")
	})
	// The same container reached at its own address, without DNAT: published over direct is
	// what the port's NAT costs. Both cross the veth at Docker's MTU of 1500, where raw
	// loopback's is 65536: the gap to loopback is the MTU's, as published-mtu65520 shows.
	b.Run("direct", func(b *testing.B) {
		inOwnNetNS(b)
		defer berthCleanup(b, "network", "rm", "bridge")
		id := strings.TrimSpace(berth(b, "container", "run", "-d", img, "netprobe", "sink", ":9000"))
		defer berthCleanup(b, "container", "rm", "-f", id)
		ip := containerIP(b, berth(b, "container", "inspect", id))
		addr := net.JoinHostPort(ip, "9000")
		throughput(b, func(mib int) float64 { return hostSend(b, probe, addr, mib) })
	})
	b.Run("published-mtu65520", func(b *testing.B) {
		inOwnNetNS(b)
		berth(b, "network", "create", "-o", "com.docker.network.driver.mtu=65520", "bench-mtu")
		defer berthCleanup(b, "network", "rm", "bench-mtu")
		nb.publishedBesideLoopback(b, "bench-mtu")
	})
	b.Run("container-to-container", func(b *testing.B) {
		inOwnNetNS(b) // the network's bridge goes in the benchmark's own namespace
		berth(b, "network", "create", "bench-c2c")
		defer berthCleanup(b, "network", "rm", "bench-c2c")
		sink := strings.TrimSpace(berth(b, "container", "run", "-d", "--name", "sink", "--network", "bench-c2c", img, "netprobe", "sink", ":9000"))
		defer berthCleanup(b, "container", "rm", "-f", sink)
		client := strings.TrimSpace(berth(b, "container", "run", "-d", "--name", "client", "--network", "bench-c2c", img, "/bin/busybox", "sleep", "3600"))
		defer berthCleanup(b, "container", "rm", "-f", client)
		throughput(b, func(mib int) float64 {
			return parseRate(b, berth(b, "container", "exec", client, "netprobe", "send", "sink:9000", strconv.Itoa(mib)))
		})
	})
	b.Run("docker-published", func(b *testing.B) {
		ref := dockerImage(b, rootfs)
		// Docker runs in the machine's own namespace: the ports are free ones of its loopback.
		pub := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(b)))
		id := strings.TrimSpace(docker(b, "run", "-d", "-p", pub+":9000", ref, "netprobe", "sink", ":9000"))
		defer dockerCleanup(b, "rm", "-f", id)
		raw := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(b)))
		hostSink(b, probe, raw)
		throughputBesideLoopback(b,
			func(mib int) float64 { return hostSend(b, probe, pub, mib) },
			func(mib int) float64 { return hostSend(b, probe, raw, mib) })
	})
	b.Run("docker-container-to-container", func(b *testing.B) {
		ref := dockerImage(b, rootfs)
		client := dockerPair(b, ref)
		throughput(b, func(mib int) float64 {
			return parseRate(b, docker(b, "exec", client, "netprobe", "send", "sink:9000", strconv.Itoa(mib)))
		})
	})
}

// BenchmarkNetworkDNS reports how long one lookup of another container's name takes from a
// container on a berth network (ms/lookup, the median over iterations of the mean of 300
// lookups with Go's resolver), and the same on a Docker network where a Docker engine answers.
func BenchmarkNetworkDNS(b *testing.B) {
	nb := newNetBench(b)
	rootfs, berth, berthCleanup := nb.rootfs, nb.berth, nb.cleanup

	b.Run("berth", func(b *testing.B) {
		inOwnNetNS(b) // the network's bridge goes in the benchmark's own namespace
		berth(b, "network", "create", "bench-dns")
		defer berthCleanup(b, "network", "rm", "bench-dns")
		sink := strings.TrimSpace(berth(b, "container", "run", "-d", "--name", "sink", "--network", "bench-dns", img, "netprobe", "sink", ":9000"))
		defer berthCleanup(b, "container", "rm", "-f", sink)
		client := strings.TrimSpace(berth(b, "container", "run", "-d", "--name", "client", "--network", "bench-dns", img, "/bin/busybox", "sleep", "3600"))
		defer berthCleanup(b, "container", "rm", "-f", client)
		lookupLatency(b, func(n int) string {
			return berth(b, "container", "exec", client, "netprobe", "dns", "sink", strconv.Itoa(n))
		})
	})
	b.Run("docker", func(b *testing.B) {
		ref := dockerImage(b, rootfs)
		client := dockerPair(b, ref)
		lookupLatency(b, func(n int) string {
			return docker(b, "exec", client, "netprobe", "dns", "sink", strconv.Itoa(n))
		})
	})
}

// netprobeImage builds testdata/netprobe as a static program, adds it to a copy of the busybox
// root filesystem at /bin/netprobe and imports that as ref into the state root of env. It returns
// the program, which the benchmarks also run as a plain process, and the root filesystem tarball
// (for docker import).
func netprobeImage(b *testing.B, dir string, env []string, ref string) (probe, rootfs string) {
	b.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Skipf("needs the go command to build testdata/netprobe: %v", err)
	}
	tmp := b.TempDir()
	probe = filepath.Join(tmp, "netprobe")
	build := exec.Command(goBin, "build", "-o", probe, "./testdata/netprobe")
	build.Dir = filepath.Join(repoRoot(), "e2e")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building netprobe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(probe)
	if err != nil {
		b.Fatal(err)
	}

	src, err := os.Open(busyboxRootfs(b))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	rootfs = filepath.Join(tmp, "rootfs.tar")
	dst, err := os.Create(rootfs)
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	tr, tw := tar.NewReader(src), tar.NewWriter(dst)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = tw.WriteHeader(hdr)
		}
		if err == nil {
			_, err = io.Copy(tw, tr)
		}
		if err != nil {
			b.Fatalf("copying the busybox root filesystem: %v", err)
		}
	}
	err = tw.WriteHeader(&tar.Header{Name: "bin/netprobe", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))})
	if err == nil {
		_, err = tw.Write(data)
	}
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = dst.Close()
	}
	if err != nil {
		b.Fatalf("writing %s: %v", rootfs, err)
	}
	cmd{args: []string{"image", "import", rootfs, ref}, dir: dir, env: env}.ok(b)
	return probe, rootfs
}

// hostSink runs `netprobe sink addr` as a plain process in the network namespace of the calling
// goroutine's thread, until b ends; it is killed by its pid, a child of this process.
func hostSink(b *testing.B, probe, addr string) {
	b.Helper()
	x := exec.Command(probe, "sink", addr)
	if err := x.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = x.Process.Kill()
		_ = x.Wait()
	})
}

// hostSend runs `netprobe send addr mib` as a plain process in the network namespace of the
// calling goroutine's thread and returns the rate it measured.
func hostSend(b *testing.B, probe, addr string, mib int) float64 {
	b.Helper()
	out, err := exec.Command(probe, "send", addr, strconv.Itoa(mib)).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.Fatalf("netprobe send %s: %v: %s", addr, err, ee.Stderr)
		}
		b.Fatalf("netprobe send %s: %v", addr, err)
	}
	return parseRate(b, string(out))
}

// throughput warms the path up with a short send, which also waits for the sink to listen, sizes
// the sends and reports the median rate of one send per iteration.
func throughput(b *testing.B, send func(mib int) float64) {
	b.Helper()
	mib := sendSize(b, send(warmMiB))
	var rates []float64
	for b.Loop() {
		rates = append(rates, send(mib))
	}
	b.ReportMetric(median(rates), "MiB/s")
}

// throughputBesideLoopback is throughput for a published port, with a send of the same size over
// raw loopback in the same namespace before each timed one: it reports the median of both and the
// ratio of the two medians (ratio-to-loopback), both measured in this sub-benchmark, alternately.
func throughputBesideLoopback(b *testing.B, send, raw func(mib int) float64) {
	b.Helper()
	mib := sendSize(b, min(send(warmMiB), raw(warmMiB)))
	var rates, raws []float64
	for b.Loop() {
		b.StopTimer()
		raws = append(raws, raw(mib))
		b.StartTimer()
		rates = append(rates, send(mib))
	}
	b.ReportMetric(median(rates), "MiB/s")
	b.ReportMetric(median(raws), "loopback-MiB/s")
	b.ReportMetric(median(rates)/median(raws), "ratio-to-loopback")
}

// sendSize is sendMiB, or less when a send at the warm-up's rate would not fit in sendBudget.
func sendSize(b *testing.B, rate float64) int {
	b.Helper()
	fit := int(rate*sendBudget.Seconds()) / 100 * 100
	if fit >= sendMiB {
		return sendMiB
	}
	mib := max(warmMiB, fit)
	b.Logf("%.0f MiB/s in the warm-up: %d MiB per send instead of %d, to keep an iteration short", rate, mib, sendMiB)
	return mib
}

// lookupLatency reports the median over iterations of the mean time of one lookup in dns(n),
// which runs `netprobe dns sink n`; any failed lookup fails the benchmark.
func lookupLatency(b *testing.B, dns func(n int) string) {
	b.Helper()
	if _, fails := parseLookups(b, dns(10)); fails > 0 { // the name is there before timing starts
		b.Fatalf("%d of 10 lookups of sink failed in the warm-up", fails)
	}
	var ms []float64
	for b.Loop() {
		m, fails := parseLookups(b, dns(dnsLookups))
		if fails > 0 {
			b.Fatalf("%d of %d lookups of sink failed", fails, dnsLookups)
		}
		ms = append(ms, m)
	}
	b.ReportMetric(median(ms), "ms/lookup")
}

// parseRate reads netprobe send's "<float> MiB/s".
func parseRate(b *testing.B, out string) float64 {
	b.Helper()
	f := strings.Fields(out)
	if len(f) == 2 && f[1] == "MiB/s" {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil && v > 0 {
			return v
		}
	}
	b.Fatalf("netprobe send printed %q, want <float> MiB/s", out)
	return 0
}

// parseLookups reads netprobe dns's "<float> ms/lookup fails=<n>".
func parseLookups(b *testing.B, out string) (ms float64, fails int) {
	b.Helper()
	f := strings.Fields(out)
	if len(f) == 3 && f[1] == "ms/lookup" && strings.HasPrefix(f[2], "fails=") {
		m, err1 := strconv.ParseFloat(f[0], 64)
		n, err2 := strconv.Atoi(strings.TrimPrefix(f[2], "fails="))
		if err1 == nil && err2 == nil {
			return m, n
		}
	}
	b.Fatalf("netprobe dns printed %q, want <float> ms/lookup fails=<n>", out)
	return 0, 0
}

// median is the middle value of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// freePort is a TCP port free on 127.0.0.1 in the calling goroutine's network namespace.
func freePort(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dockerImage skips b unless a Docker engine answers, and imports rootfs into it until b ends:
// the image is removed after everything the sub-benchmark made from it (b.Cleanup runs after the
// sub-benchmark's defers, and in reverse order).
func dockerImage(b *testing.B, rootfs string) string {
	b.Helper()
	if exec.Command("docker", "info").Run() != nil {
		b.Skip("needs a running Docker engine (docker info failed)")
	}
	ref := fmt.Sprintf("berth-bench-netprobe:%d", os.Getpid())
	docker(b, "import", rootfs, ref)
	b.Cleanup(func() { dockerCleanup(b, "rmi", "-f", ref) })
	return ref
}

// dockerPair makes a Docker network with a sink container (netprobe sink :9000, alias sink) and
// a sleeping client container on it, removed when b ends, and returns the client's id. The names
// are the benchmark's own, so that nothing else of the engine's is touched.
func dockerPair(b *testing.B, ref string) (client string) {
	b.Helper()
	name := fmt.Sprintf("berth-bench-%d", os.Getpid())
	docker(b, "network", "create", name)
	b.Cleanup(func() { dockerCleanup(b, "network", "rm", name) })
	sink := strings.TrimSpace(docker(b, "run", "-d", "--name", name+"-sink", "--network", name, "--network-alias", "sink", ref, "netprobe", "sink", ":9000"))
	b.Cleanup(func() { dockerCleanup(b, "rm", "-f", sink) })
	client = strings.TrimSpace(docker(b, "run", "-d", "--name", name+"-client", "--network", name, ref, "/bin/busybox", "sleep", "3600"))
	b.Cleanup(func() { dockerCleanup(b, "rm", "-f", client) })
	return client
}

// docker runs the docker CLI and returns its standard output, failing b unless it exits 0.
func docker(b *testing.B, args ...string) string {
	b.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.Fatalf("docker %v: %v: %s", args, err, ee.Stderr)
		}
		b.Fatalf("docker %v: %v", args, err)
	}
	return string(out)
}

// dockerCleanup runs a docker command that removes what a benchmark made, reporting a failure.
func dockerCleanup(b *testing.B, args ...string) {
	b.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		b.Errorf("cleanup: docker %v: %v: %s", args, err, out)
	}
}

// containerIP is the address of the container of `container inspect` output on its first
// network.
func containerIP(b *testing.B, inspect string) string {
	b.Helper()
	var in []struct {
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress string }
		}
	}
	if err := json.Unmarshal([]byte(inspect), &in); err != nil || len(in) != 1 {
		b.Fatalf("container inspect: %v", err)
	}
	for _, n := range in[0].NetworkSettings.Networks {
		if n.IPAddress != "" {
			return n.IPAddress
		}
	}
	b.Fatalf("the container has no address: %s", inspect)
	return ""
}

// img is the image of the network benchmarks: busybox with netprobe.
const img = "bench-netprobe:1"

// netBench is a network benchmark's berth: its own state root with img imported, and netprobe
// built for the host too.
type netBench struct {
	dir, probe, rootfs string
	env                []string
}

func newNetBench(b *testing.B) *netBench {
	b.Helper()
	testutil.RequireRoot(b)
	testutil.RequireOverlay(b)
	nb := &netBench{dir: b.TempDir(), env: stateEnv(b)}
	nb.probe, nb.rootfs = netprobeImage(b, nb.dir, nb.env, img)
	return nb
}

// berth runs a berth command that must succeed and returns its output.
func (nb *netBench) berth(b *testing.B, args ...string) string {
	b.Helper()
	return cmd{args: args, dir: nb.dir, env: nb.env}.ok(b).stdout
}

// cleanup runs a berth command that removes something, reporting a failure.
func (nb *netBench) cleanup(b *testing.B, args ...string) {
	b.Helper()
	if r := (cmd{args: args, dir: nb.dir, env: nb.env}).run(b); r.code != 0 {
		b.Errorf("cleanup: berth %v: exit %d: %s", args, r.code, r.stderr)
	}
}

// publishedBesideLoopback measures a sink container on network publishing its port on
// 127.0.0.1, beside raw loopback.
func (nb *netBench) publishedBesideLoopback(b *testing.B, network string) {
	b.Helper()
	id := strings.TrimSpace(nb.berth(b, "container", "run", "-d", "--network", network, "-p", fmt.Sprintf("127.0.0.1:%d:9000", publishedPort),
		img, "netprobe", "sink", ":9000"))
	defer nb.cleanup(b, "container", "rm", "-f", id)
	raw := net.JoinHostPort("127.0.0.1", strconv.Itoa(loopbackPort))
	hostSink(b, nb.probe, raw)
	pub := net.JoinHostPort("127.0.0.1", strconv.Itoa(publishedPort))
	throughputBesideLoopback(b,
		func(mib int) float64 { return hostSend(b, nb.probe, pub, mib) },
		func(mib int) float64 { return hostSend(b, nb.probe, raw, mib) })
}
