package k8s

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/berth-sh/berth/test/k8s/cluster"
	"github.com/berth-sh/berth/test/k8s/kval"
)

// serverResources are the REST resources of the kinds kval supports.
var serverResources = map[schema.GroupKind]struct {
	resource   string
	namespaced bool
}{
	{Kind: "Namespace"}:                                 {"namespaces", false},
	{Kind: "ConfigMap"}:                                 {"configmaps", true},
	{Kind: "Secret"}:                                    {"secrets", true},
	{Kind: "PersistentVolumeClaim"}:                     {"persistentvolumeclaims", true},
	{Kind: "Service"}:                                   {"services", true},
	{Kind: "Pod"}:                                       {"pods", true},
	{Group: "apps", Kind: "Deployment"}:                 {"deployments", true},
	{Group: "apps", Kind: "StatefulSet"}:                {"statefulsets", true},
	{Group: "apps", Kind: "DaemonSet"}:                  {"daemonsets", true},
	{Group: "batch", Kind: "Job"}:                       {"jobs", true},
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}: {"networkpolicies", true},
}

// serverDoc is one YAML document and where the server takes it.
type serverDoc struct {
	where     string // file: document n
	data      []byte
	gvk       schema.GroupVersionKind
	namespace string
}

// TestKvalAgreesWithServer sends every document of kval's fixtures and of the
// golden files to a real kube-apiserver as a dry-run create (YAML body,
// fieldValidation=Strict, as `kubectl apply --dry-run=server
// --validate=strict` or server-side apply would) and checks that kval gives
// the same verdict and the same error text.
func TestKvalAgreesWithServer(t *testing.T) {
	var docs []serverDoc
	for _, dir := range []string{"kval/testdata", goldenDir} {
		docs = append(docs, readDocs(t, dir)...)
	}
	if len(docs) < 40 {
		t.Fatalf("only %d documents to compare", len(docs))
	}

	c := cluster.Start(t)
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Namespace documents first, while their namespaces do not exist; then
	// create every namespace the other documents use (dry-run creates in a
	// missing namespace are refused by admission, which kval does not model).
	compared := 0
	for pass := range 2 {
		for _, d := range docs {
			if (d.gvk.Kind == "Namespace") != (pass == 0) {
				continue
			}
			if pass == 1 && d.namespace != "default" {
				ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.namespace}}
				if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatalf("creating namespace %s: %v", d.namespace, err)
				}
			}
			serverErr := dryRunCreate(ctx, t, hc, c.Config.Host, d)
			got := kval.ValidateDocument(d.data)
			compared++
			switch {
			case serverErr == "" && got.Err != nil:
				t.Errorf("%s: server accepts %s, kval rejects: %v", d.where, d.gvk.Kind, got.Err)
			case serverErr != "" && got.Err == nil:
				t.Errorf("%s: kval accepts %s, server rejects: %s", d.where, d.gvk.Kind, serverErr)
			case serverErr != "" && got.Err.Error() != serverErr:
				t.Errorf("%s: error texts differ\nserver: %s\nkval:   %v", d.where, serverErr, got.Err)
			}
		}
	}
	t.Logf("compared %d documents", compared)
}

// dryRunCreate POSTs the document as YAML and returns the server's error
// message, or "" when it accepted the object.
func dryRunCreate(ctx context.Context, t *testing.T, hc *http.Client, host string, d serverDoc) string {
	t.Helper()
	r := serverResources[d.gvk.GroupKind()]
	path := "/api/" + d.gvk.Version
	if d.gvk.Group != "" {
		path = "/apis/" + d.gvk.Group + "/" + d.gvk.Version
	}
	if r.namespaced {
		path += "/namespaces/" + d.namespace
	}
	url := host + path + "/" + r.resource + "?dryRun=All&fieldValidation=Strict"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", d.where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 == 2 {
		return ""
	}
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || st.Message == "" {
		return fmt.Sprintf("HTTP %s: %s", resp.Status, body)
	}
	return st.Message
}

// readDocs returns the documents under dir whose kind the server check
// covers (kval-only cases, such as an unknown kind, are left out).
func readDocs(t *testing.T, dir string) []serverDoc {
	t.Helper()
	var docs []serverDoc
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for n := 1; ; n++ {
			doc, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if yaml.Unmarshal(doc, &head) != nil || head.Kind == "" {
				continue
			}
			gv, err := schema.ParseGroupVersion(head.APIVersion)
			if err != nil {
				continue
			}
			gvk := gv.WithKind(head.Kind)
			if _, ok := serverResources[gvk.GroupKind()]; !ok {
				continue
			}
			ns := head.Metadata.Namespace
			if ns == "" {
				ns = kval.DefaultNamespace
			}
			docs = append(docs, serverDoc{where: fmt.Sprintf("%s: document %d", path, n), data: doc, gvk: gvk, namespace: ns})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}
