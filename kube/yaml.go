package kube

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Unstructured is an object as the API sees it, without the empty fields typed structs always
// carry (creationTimestamp: null, status: {}).
func Unstructured(o Object) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", kindOf(o), o.GetName(), err)
	}
	prune(m)
	return m, nil
}

// prune drops what typed structs leave behind: nulls, status (the server's to write) and empty
// maps, except those that mean something empty (emptyDir: {}, a selector matching everything).
func prune(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(t)
			if k == "status" || len(t) == 0 && !keepEmpty[k] {
				delete(m, k)
			}
		case []any:
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}

// YAML renders objects as one multi-document YAML stream, keys sorted, in the given order.
func YAML(objs []Object) ([]byte, error) {
	var b bytes.Buffer
	for i, o := range objs {
		doc, err := objectYAML(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(doc)
	}
	return b.Bytes(), nil
}

func objectYAML(o Object) ([]byte, error) {
	m, err := Unstructured(o)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(m)
}

// WriteDir writes one file per object into dir, named <order>-<kind>-<name>.yaml so that
// `kubectl apply -f dir` applies them in order (the Namespace first).
func WriteDir(dir string, objs []Object) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for i, o := range objs {
		doc, err := objectYAML(o)
		if err != nil {
			return nil, err
		}
		f := filepath.Join(dir, fmt.Sprintf("%03d-%s-%s.yaml", i, strings.ToLower(kindOf(o)), o.GetName()))
		if err := os.WriteFile(f, doc, 0o644); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// keepEmpty are the fields whose empty map is a value: an emptyDir volume, a selector that
// selects everything (a NetworkPolicy's podSelector or namespaceSelector).
var keepEmpty = map[string]bool{"emptyDir": true, "podSelector": true, "namespaceSelector": true}
