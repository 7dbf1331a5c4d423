// Package cluster starts a throwaway Kubernetes control plane for a test:
// etcd 3.6, kube-apiserver, kube-controller-manager and kube-scheduler
// v1.34.2 (all built from the Go module proxy by build-tools.sh), and the kwok controller simulating Ready nodes (pods are moved to
// Running/Ready by kwok's stages; no container runs). Everything listens on
// 127.0.0.1 on free ports and lives in a temporary directory; nothing needs
// root. Cleanup stops every process it started by its process group and
// removes the directory.
//
// The binaries come from build-tools.sh's cache directory (BERTH_K8S_TOOLS
// overrides it); when they are missing Start runs build-tools.sh (about 10-15
// minutes cold) unless BERTH_K8S_NO_BUILD=1, in which case the test skips.
// With BERTH_K8S_REQUIRE=1 (CI) every skip is a failure instead.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Versions built by build-tools.sh; the cache directory is named after them.
const (
	KubernetesVersion = "v1.34.2"
	KwokVersion       = "v0.8.0"
)

// ServiceCIDR is the apiserver's --service-cluster-ip-range.
const ServiceCIDR = "10.0.0.0/24"

// PodCIDR is where kwok takes the (fake, never routed) pod IPs from.
const PodCIDR = "10.244.0.0/16"

// watchListOff stops the controller-manager's and scheduler's client-go from
// first trying watch-list streams (kept from when the cluster ran Debian's
// etcd 3.4, which cannot serve them; harmless with 3.6).
const watchListOff = "--feature-gates=WatchListClient=false"

// NodeAnnotation marks the nodes the kwok controller manages.
const NodeAnnotation = "kwok.x-k8s.io/node"

// Options tune Start.
type Options struct {
	Nodes int // fake Ready nodes to create; 0 means 3
}

// Cluster is a running control plane.
type Cluster struct {
	// Kubeconfig is a kubeconfig file whose current context ("berth-test")
	// has namespace "default" and a token with cluster-admin rights.
	Kubeconfig string
	// Config is the same endpoint and credentials for client-go.
	Config *rest.Config
	// Client is a typed clientset on Config.
	Client kubernetes.Interface
	// Dir is the temporary directory holding data, certificates and logs.
	Dir string
	// Nodes are the names of the fake nodes.
	Nodes []string

	t      testing.TB
	procs  []*proc
	pvSeq  int
	mu     sync.Mutex
	closed bool
}

// Start starts a cluster with 3 Ready nodes, or skips the test naming why it
// cannot. It returns once the nodes are Ready and the "default"
// ServiceAccount exists, so pods can be created. The cluster is stopped on
// t.Cleanup.
func Start(t testing.TB) *Cluster {
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opt Options) *Cluster {
	t.Helper()
	if opt.Nodes == 0 {
		opt.Nodes = 3
	}
	tools := ToolsDir(t)

	begin := time.Now()
	dir, err := os.MkdirTemp("", "berth-k8s-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, t: t}
	t.Cleanup(c.Stop)
	if err := c.start(tools, opt); err != nil {
		t.Fatalf("starting the test cluster: %v", err)
	}
	t.Logf("cluster: up with %d Ready nodes in %s (dir %s)", len(c.Nodes), time.Since(begin).Round(time.Millisecond), dir)
	return c
}

// skip skips the test, or fails it when BERTH_K8S_REQUIRE=1.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("BERTH_K8S_REQUIRE") == "1" {
		t.Fatalf("BERTH_K8S_REQUIRE=1 but: "+format, args...)
	}
	t.Skipf(format, args...)
}

var toolNames = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"}

// buildOnce makes concurrent tests of one package share one build.
var buildOnce struct {
	sync.Mutex
	dir string
}

// ToolsDir returns the directory holding kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok and kwok-stages.yaml,
// building them with build-tools.sh when they are missing.
func ToolsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BERTH_K8S_TOOLS"); d != "" {
		if m := missingTools(d); len(m) > 0 {
			t.Fatalf("BERTH_K8S_TOOLS=%s lacks %s", d, strings.Join(m, ", "))
		}
		return d
	}
	buildOnce.Lock()
	defer buildOnce.Unlock()
	if buildOnce.dir != "" {
		return buildOnce.dir
	}
	cache := os.Getenv("BERTH_K8S_CACHE")
	if cache == "" {
		cache = "/var/cache/berth-k8s"
	}
	d := filepath.Join(cache, "k8s-"+KubernetesVersion+"-kwok-"+KwokVersion)
	if len(missingTools(d)) == 0 {
		buildOnce.dir = d
		return d
	}
	if os.Getenv("BERTH_K8S_NO_BUILD") == "1" {
		skip(t, "Kubernetes test binaries missing in %s (%s) and BERTH_K8S_NO_BUILD=1; run test/k8s/build-tools.sh",
			d, strings.Join(missingTools(d), ", "))
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate build-tools.sh")
	}
	script := filepath.Join(filepath.Dir(self), "..", "build-tools.sh")
	t.Logf("cluster: %s missing in %s; running %s (cold: 10-15 minutes)", strings.Join(missingTools(d), ", "), d, script)
	begin := time.Now()
	cmd := exec.Command("/bin/sh", script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	d = strings.TrimSpace(string(out))
	if m := missingTools(d); len(m) > 0 {
		t.Fatalf("%s printed %s, which lacks %s", script, d, strings.Join(m, ", "))
	}
	t.Logf("cluster: built the tools in %s", time.Since(begin).Round(time.Second))
	buildOnce.dir = d
	return d
}

func missingTools(dir string) []string {
	var m []string
	for _, n := range toolNames {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Size() == 0 {
			m = append(m, n)
		}
	}
	return m
}

func (c *Cluster) start(tools string, opt Options) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	pki, err := writePKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return err
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort, kwokPort := ports[0], ports[1], ports[2], ports[3]

	// etcd
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	etcd, err := c.run("etcd", filepath.Join(tools, "etcd"),
		"--name=berth-test",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=berth-test="+peerURL,
		"--initial-cluster-state=new",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, etcd, etcdURL+"/health", nil, ""); err != nil {
		return err
	}

	// kube-apiserver
	token := pki.token
	apiURL := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	apiserver, err := c.run("kube-apiserver", filepath.Join(tools, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir="+filepath.Join(c.Dir, "pki"),
		"--tls-cert-file="+pki.serverCert,
		"--tls-private-key-file="+pki.serverKey,
		"--token-auth-file="+pki.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--allow-privileged=true",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, apiserver, apiURL+"/readyz", pki.caPEM, token); err != nil {
		return err
	}

	// Client configuration and kubeconfig for the other components and tests.
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, apiURL, pki.caPEM, token); err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host:            apiURL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.caPEM},
		QPS:             100,
		Burst:           200,
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}

	if _, err := c.run("kube-controller-manager", filepath.Join(tools, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig,
		"--service-account-private-key-file="+pki.saKey,
		"--root-ca-file="+pki.caCert,
		"--use-service-account-credentials=false",
		"--controllers=*",
		"--leader-elect=false",
		watchListOff,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--profiling=false",
	); err != nil {
		return err
	}
	if _, err := c.run("kube-scheduler", filepath.Join(tools, "kube-scheduler"),
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		watchListOff,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--profiling=false",
	); err != nil {
		return err
	}
	kwokHome := filepath.Join(c.Dir, "kwok")
	if err := os.MkdirAll(kwokHome, 0o700); err != nil {
		return err
	}
	kwok, err := c.runEnv("kwok", []string{"HOME=" + kwokHome, "KWOK_WORKDIR=" + kwokHome},
		filepath.Join(tools, "kwok"),
		"--kubeconfig="+c.Kubeconfig,
		"--config="+filepath.Join(tools, "kwok-stages.yaml"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+NodeAnnotation+"=fake",
		"--node-ip=127.0.0.1",
		fmt.Sprintf("--node-port=%d", kwokPort),
		fmt.Sprintf("--server-address=127.0.0.1:%d", kwokPort),
		"--cidr="+PodCIDR,
		"--node-lease-duration-seconds=40",
	)
	if err != nil {
		return err
	}

	for i := range opt.Nodes {
		name := fmt.Sprintf("kwok-node-%d", i)
		if err := c.createNode(ctx, name); err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, name)
	}
	if err := c.poll(ctx, "nodes Ready", kwok, func() (bool, error) {
		return c.readyNodes(ctx) == len(c.Nodes), nil
	}); err != nil {
		return err
	}
	return c.poll(ctx, `ServiceAccount "default" in namespace "default"`, nil, func() (bool, error) {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// createNode registers a node for kwok to manage. No taint: every pod may
// land on it.
func (c *Cluster) createNode(ctx context.Context, name string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{NodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname":        name,
				"kubernetes.io/os":              "linux",
				"kubernetes.io/arch":            "amd64",
				"kubernetes.io/role":            "agent",
				"node-role.kubernetes.io/agent": "",
				"type":                          "kwok",
			},
		},
	}
	_, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating node %s: %w", name, err)
	}
	return nil
}

// ReadyNodes counts the nodes whose Ready condition is True.
func (c *Cluster) ReadyNodes(ctx context.Context) int { return c.readyNodes(ctx) }

func (c *Cluster) readyNodes(ctx context.Context) int {
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0
	}
	n := 0
	for _, node := range nodes.Items {
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}

// CreateHostPathPVs creates n PersistentVolumes of the given size (e.g.
// "1Gi"), ReadWriteOnce, storageClassName "", hostPath inside the cluster
// directory (never touched: no kubelet runs). The controller-manager's PV
// controller binds class-less PVCs, e.g. a StatefulSet's, to them. It
// returns their names.
func (c *Cluster) CreateHostPathPVs(t testing.TB, n int, size string) []string {
	t.Helper()
	q, err := resource.ParseQuantity(size)
	if err != nil {
		t.Fatalf("PV size %q: %v", size, err)
	}
	var names []string
	for range n {
		c.mu.Lock()
		name := fmt.Sprintf("berth-test-pv-%d", c.pvSeq)
		c.pvSeq++
		c.mu.Unlock()
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: q},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              "",
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(c.Dir, "pv", name)},
				},
			},
		}
		if _, err := c.Client.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating PersistentVolume %s: %v", name, err)
		}
		names = append(names, name)
	}
	return names
}

// Pids returns the process ids of the components, in start order.
func (c *Cluster) Pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for _, p := range c.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// Stop stops every component (SIGTERM to its process group, SIGKILL after
// 10s), in reverse start order, and removes the directory. It is idempotent
// and runs on t.Cleanup; if the test failed, the tail of each log is shown.
func (c *Cluster) Stop() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	procs := c.procs
	c.mu.Unlock()
	if c.t.Failed() {
		c.dumpLogs()
	}
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(10 * time.Second); err != nil {
			c.t.Errorf("cluster: %v", err)
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		c.t.Errorf("cluster: removing %s: %v", c.Dir, err)
	}
}

func (c *Cluster) dumpLogs() {
	c.mu.Lock()
	procs := c.procs
	c.mu.Unlock()
	for _, p := range procs {
		data, err := os.ReadFile(p.log)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		c.t.Logf("cluster: last lines of %s (%s):\n%s", p.name, p.log, strings.Join(lines, "\n"))
	}
}

// poll calls f every 200ms until it reports done, ctx ends, or the watched
// process exits.
func (c *Cluster) poll(ctx context.Context, what string, watch *proc, f func() (bool, error)) error {
	var last error
	for {
		done, err := f()
		if done {
			return nil
		}
		last = err
		var exited <-chan struct{}
		if watch != nil {
			exited = watch.done
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-exited:
			return fmt.Errorf("waiting for %s: %s exited: %v; last lines of %s:\n%s", what, watch.name, watch.err, watch.log, logTail(watch.log, 15))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeKubeconfig writes a kubeconfig with one context, namespace "default".
func writeKubeconfig(path, server string, ca []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["berth-test"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["berth-test"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["berth-test"] = &clientcmdapi.Context{Cluster: "berth-test", AuthInfo: "berth-test", Namespace: "default"}
	cfg.CurrentContext = "berth-test"
	return clientcmd.WriteToFile(*cfg, path)
}

// logTail is used in error messages about a component that exited.
func logTail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(bytes.TrimRight(data, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
