package main

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// outputOf builds a tool output from YAML documents (all accepted: these tests are about the
// probes, not validation).
func outputOf(t *testing.T, docs ...string) *output {
	t.Helper()
	out := &output{}
	for _, d := range docs {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(d), &head); err != nil {
			t.Fatal(err)
		}
		o := &object{kind: head.Kind, name: head.Metadata.Name, obj: decode(head.Kind, []byte(d))}
		if o.obj == nil {
			t.Fatalf("%s did not decode", head.Kind)
		}
		out.objects = append(out.objects, o)
		if w := asWorkload(o); w != nil {
			out.workloads = append(out.workloads, w)
		}
	}
	return out
}

// deployment is a Deployment "web" whose container has the given YAML (indented 8) and whose
// pod spec has the given extra YAML (indented 6).
func deployment(container, pod string) string {
	return `kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
` + pod + `
      containers:
      - name: web
        image: nginx
` + container
}

// probeOne probes one field (its compose key is the part before a dot) of a service.
func probeOne(t *testing.T, s *service, out *output, field string) result {
	t.Helper()
	key, _, _ := strings.Cut(field, ".")
	p := &project{Services: map[string]*service{s.Name: s},
		raw: map[string]map[string]json.RawMessage{s.Name: {key: json.RawMessage(`"set"`)}}}
	res, unp, _ := probeService(p, s, out)
	if len(unp) > 0 {
		t.Fatalf("unprobed %v", unp)
	}
	for _, r := range res {
		if r.Field == field {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", field, res)
	return result{}
}

func TestSecretOverRunSecretsIsNotCarried(t *testing.T) {
	s := &service{Name: "web", Secrets: []fileRef{{Source: "db_password"}}}
	volume := `      volumes:
      - name: pw
        secret: {secretName: db-password, items: [{key: db_password, path: db_password}]}`
	for _, c := range []struct {
		mount string
		want  bool
	}{
		{"{name: pw, mountPath: /run/secrets, subPath: db_password}", false}, // a file named /run/secrets
		{"{name: pw, mountPath: /run/secrets/db_password, subPath: db_password}", true},
		{"{name: pw, mountPath: /run/secrets}", true}, // the directory, holding exactly that item
		{"{name: pw, mountPath: /run/secrets/other, subPath: db_password}", false},
	} {
		out := outputOf(t, deployment("        volumeMounts: ["+c.mount+"]", volume))
		if r := probeOne(t, s, out, "secrets"); r.Carried != c.want {
			t.Errorf("mount %s: carried %v, want %v (%s)", c.mount, r.Carried, c.want, r.Detail)
		}
	}
}

func TestShellHealthcheckNeedsAShell(t *testing.T) {
	s := &service{Name: "web", Healthcheck: &healthcheck{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}}}
	for _, c := range []struct {
		probe string
		want  bool
	}{
		{`        livenessProbe: {exec: {command: ["curl -f http://localhost/ || exit 1"]}}`, false},
		{`        readinessProbe: {exec: {command: [/bin/sh, -c, "curl -f http://localhost/ || exit 1"]}}`, true},
		{`        readinessProbe: {httpGet: {port: 80}}`, false},
	} {
		out := outputOf(t, deployment(c.probe, ""))
		if r := probeOne(t, s, out, "healthcheck"); r.Carried != c.want {
			t.Errorf("%s: carried %v, want %v (%s)", c.probe, r.Carried, c.want, r.Detail)
		}
	}
}

func TestPortsNeedTheTargetPortAsServicePort(t *testing.T) {
	s := &service{Name: "web", Ports: []portConfig{{Target: 80, Published: "8080"}}}
	for _, c := range []struct {
		svc       string
		in, pubOK bool
	}{
		{`{kind: Service, metadata: {name: web}, spec: {selector: {app: web}, ports: [{port: 8080, targetPort: 80}]}}`, false, false},
		{`{kind: Service, metadata: {name: web}, spec: {selector: {app: web}, ports: [{port: 80}]}}`, true, false},
		{`{kind: Service, metadata: {name: web}, spec: {selector: {app: other}, ports: [{port: 80}]}}`, false, false},
		{`{kind: Service, metadata: {name: web}, spec: {selector: {app: web}, clusterIP: None}}`, true, false},
		{`{kind: Service, metadata: {name: web}, spec: {selector: {app: web}, type: LoadBalancer, ports: [{port: 8080, targetPort: 80}]}}`, false, true},
	} {
		out := outputOf(t, deployment("", ""), c.svc)
		if r := probeOne(t, s, out, "ports"); r.Carried != c.in {
			t.Errorf("%s: ports carried %v, want %v", c.svc, r.Carried, c.in)
		}
		if r := probeOne(t, s, out, "ports.published"); r.Carried != c.pubOK {
			t.Errorf("%s: ports.published carried %v, want %v", c.svc, r.Carried, c.pubOK)
		}
	}
}

func TestK8sExpand(t *testing.T) {
	vars := map[string]string{"A": "x"}
	for in, want := range map[string]string{
		"$$(cat f)": "$(cat f)", "$(A)": "x", "$(B)": "$(B)", "$A": "$A", "a$": "a$", "$(A": "$(A", "$$$(A)": "$x",
	} {
		if got := k8sExpand(in, vars); got != want {
			t.Errorf("k8sExpand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWarned(t *testing.T) {
	all := []string{"web", "db"}
	bind := result{Field: "volumes:bind", Values: []string{"/etc/nginx/nginx.conf", "/src/nginx.conf"}}
	ports := result{Field: "ports.published", Values: []string{"8080"}}
	for _, c := range []struct {
		warning string
		r       result
		want    bool
	}{
		{`warn volume mount on the host "/src/nginx.conf" isn't supported - ignoring path on the host`, bind, true},
		{`warn volume mount on the host "/src/nginx.conf" isn't supported - ignoring path on the host`, ports, false}, // "supported"
		{`warn service "db" won't be created because 'ports' is not specified`, result{Field: "ports"}, false},        // about db
		{`level=warning msg="service web: not carried over: ulimits (no kubernetes field)"`, result{Field: "ulimits"}, true},
		{`level=warning msg="service db: not carried over: ulimits (no kubernetes field)"`, result{Field: "ulimits"}, false},
		{`level=warning msg="service web: a container still unhealthy after its start period is restarted"`, result{Field: "healthcheck"}, false},
	} {
		if got := warned([]string{c.warning}, "web", all, c.r); got != c.want {
			t.Errorf("warned(%q, %s) = %v, want %v", c.warning, c.r.Field, got, c.want)
		}
	}
}
