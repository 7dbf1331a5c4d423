package kube_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/kube"
)

// convert loads a compose file written into a temp project (with extra files) and converts it.
func convert(t *testing.T, yaml string, files map[string]string, o kube.Options) (*kube.Result, error) {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.Options{Files: []string{f}, ProjectName: "demo", RenderOnly: true, Environ: []string{"API_KEY=k"}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return kube.Convert(p.Project, o)
}

func mustConvert(t *testing.T, yaml string, files map[string]string, o kube.Options) *kube.Result {
	t.Helper()
	res, err := convert(t, yaml, files, o)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	return res
}

func find[T kube.Object](t *testing.T, res *kube.Result, name string) T {
	t.Helper()
	for _, o := range res.Objects {
		if v, ok := o.(T); ok && o.GetName() == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %q in %s", zero, name, names(res))
	return zero
}

func names(res *kube.Result) string {
	var n []string
	for _, o := range res.Objects {
		n = append(n, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	return strings.Join(n, " ")
}

func warnings(res *kube.Result) string {
	var w []string
	for _, x := range res.Warnings {
		w = append(w, x.String())
	}
	return strings.Join(w, "\n")
}

func TestConvertHealthcheckToProbes(t *testing.T) {
	res := mustConvert(t, `
services:
  web:
    image: nginx
    healthcheck:
      test: curl -f http://localhost/ || exit 1
      interval: 10s
      timeout: 3s
      retries: 5
      start_period: 30s
  db:
    image: postgres
    healthcheck:
      test: ["CMD", "pg_isready"]
      disable: false
`, nil, kube.Options{})
	web := find[*appsv1.Deployment](t, res, "web").Spec.Template.Spec.Containers[0]
	r := web.ReadinessProbe
	if r == nil || !slices.Equal(r.Exec.Command, []string{"/bin/sh", "-c", "curl -f http://localhost/ || exit 1"}) {
		t.Fatalf("CMD-SHELL readiness probe = %+v, want sh -c", r)
	}
	if r.PeriodSeconds != 10 || r.TimeoutSeconds != 3 || r.FailureThreshold != 5 {
		t.Errorf("readiness period/timeout/threshold = %d/%d/%d, want 10/3/5", r.PeriodSeconds, r.TimeoutSeconds, r.FailureThreshold)
	}
	if s := web.StartupProbe; s == nil || s.FailureThreshold != 3+5 || s.PeriodSeconds != 10 {
		t.Errorf("startup probe = %+v, want threshold 8 (30s/10s + 5 retries)", s)
	}
	if web.LivenessProbe != nil {
		t.Error("a liveness probe was made: compose never restarts an unhealthy container")
	}
	db := find[*appsv1.Deployment](t, res, "db").Spec.Template.Spec.Containers[0]
	if db.ReadinessProbe == nil || !slices.Equal(db.ReadinessProbe.Exec.Command, []string{"pg_isready"}) || db.ReadinessProbe.PeriodSeconds != 30 {
		t.Errorf("CMD probe = %+v, want exec pg_isready every 30s", db.ReadinessProbe)
	}
}

func TestConvertSecretsAndConfigsOneFileEach(t *testing.T) {
	res := mustConvert(t, `
services:
  app:
    image: app
    secrets: [db_password, {source: api_key, target: key.txt}]
    configs: [app_cfg]
    volumes:
      - ./nginx.conf:/etc/nginx/nginx.conf:ro
secrets:
  db_password: {file: ./pw.txt}
  api_key: {environment: API_KEY}
configs:
  app_cfg: {content: "debug=1"}
`, map[string]string{"pw.txt": "s3cret\n", "nginx.conf": "events {}\n"}, kube.Options{})
	_, err := convert(t, "services: {a: {image: a, secrets: [k]}}\nsecrets: {k: {environment: NOPE}}\n", nil, kube.Options{})
	if err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("a secret from an unset variable: err = %v, want it named", err)
	}
	sec := find[*corev1.Secret](t, res, "db-password")
	if string(sec.Data["db_password"]) != "s3cret\n" {
		t.Errorf("secret data = %q", sec.Data)
	}
	cm := find[*corev1.ConfigMap](t, res, "app-cfg")
	if cm.Data["app_cfg"] != "debug=1" {
		t.Errorf("config data = %q", cm.Data)
	}
	ctr := find[*appsv1.Deployment](t, res, "app").Spec.Template.Spec.Containers[0]
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range ctr.VolumeMounts {
		mounts[m.MountPath] = m
		if m.MountPath == "/run/secrets" {
			t.Fatal("a volume is mounted over all of /run/secrets")
		}
	}
	for path, key := range map[string]string{"/run/secrets/db_password": "db_password", "/app_cfg": "app_cfg", "/etc/nginx/nginx.conf": "nginx.conf"} {
		if m, ok := mounts[path]; !ok || m.SubPath != key || !m.ReadOnly {
			t.Errorf("mount %s = %+v, want read-only subPath %s", path, m, key)
		}
	}
	// The secret from an unset variable is neither here nor silently dropped: the test above.
	if _, ok := mounts["/run/secrets/key.txt"]; !ok {
		t.Errorf("secret with a relative target is not at /run/secrets/key.txt: %v", mounts)
	}
	find[*corev1.ConfigMap](t, res, "app-nginx-conf")
}

func TestConvertNames(t *testing.T) {
	res := mustConvert(t, "services:\n  web_app: {image: nginx, expose: ['80']}\n  Api.V2: {image: api, depends_on: [web_app]}\n", nil, kube.Options{})
	find[*corev1.Service](t, res, "web-app")
	d := find[*appsv1.Deployment](t, res, "api-v2")
	if ic := d.Spec.Template.Spec.InitContainers; len(ic) != 1 || ic[0].Name != "wait-for-web-app" || !strings.Contains(ic[0].Command[2], "nc -z -w 2 web-app 80") {
		t.Errorf("init containers = %+v, want a TCP wait on web-app:80", ic)
	}
	if !strings.Contains(warnings(res), `named "web-app" in Kubernetes`) {
		t.Errorf("the rename is not warned about:\n%s", warnings(res))
	}
	_, err := convert(t, "services:\n  web_app: {image: a}\n  web-app: {image: b}\n", nil, kube.Options{})
	if err == nil || !strings.Contains(err.Error(), `"web-app"`) || !strings.Contains(err.Error(), `"web_app"`) {
		t.Errorf("a name collision: err = %v, want both services named", err)
	}
}

func TestConvertPorts(t *testing.T) {
	yaml := `
services:
  web:
    image: nginx
    ports: ["8080:80", "127.0.0.1:9090:9090", "30080:443"]
  worker:
    image: worker
  cache:
    image: redis
`
	res := mustConvert(t, yaml, nil, kube.Options{ImagePorts: func(img string) []string {
		if img == "redis" {
			return []string{"6379/tcp"}
		}
		return nil
	}})
	web := find[*corev1.Service](t, res, "web")
	var ports []int32
	for _, p := range web.Spec.Ports {
		ports = append(ports, p.Port)
	}
	if !slices.Equal(ports, []int32{80, 9090, 443}) {
		t.Errorf("web's Service ports = %v, want the target ports 80 9090 443", ports)
	}
	pub := find[*corev1.Service](t, res, "web-published")
	if pub.Spec.Type != corev1.ServiceTypeLoadBalancer || len(pub.Spec.Ports) != 2 || pub.Spec.Ports[0].Port != 8080 || pub.Spec.Ports[0].TargetPort.IntVal != 80 {
		t.Errorf("published Service = %+v, want LoadBalancer 8080->80 and 30080->443, not the loopback port", pub.Spec)
	}
	if w := find[*corev1.Service](t, res, "worker"); w.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("a service with no port: Service %+v, want headless", w.Spec)
	}
	if c := find[*corev1.Service](t, res, "cache"); len(c.Spec.Ports) != 1 || c.Spec.Ports[0].Port != 6379 {
		t.Errorf("cache's Service = %+v, want the image's port 6379", c.Spec)
	}
	np := find[*corev1.Service](t, mustConvert(t, yaml, nil, kube.Options{PublishAs: kube.PublishNodePort}), "web-published")
	if np.Spec.Type != corev1.ServiceTypeNodePort || np.Spec.Ports[1].NodePort != 30080 || np.Spec.Ports[0].NodePort != 0 {
		t.Errorf("nodeport Service = %+v", np.Spec)
	}
	none := mustConvert(t, yaml, nil, kube.Options{PublishAs: kube.PublishNone})
	if strings.Contains(names(none), "web-published") || !strings.Contains(warnings(none), "ports 8080:80 (--publish-as none)") {
		t.Errorf("--publish-as none: %s\n%s", names(none), warnings(none))
	}
}

func TestConvertVolumes(t *testing.T) {
	res := mustConvert(t, `
services:
  db: {image: postgres, volumes: [data:/var/lib/postgresql/data]}
  a: {image: a, volumes: [shared:/s, /tmp/anon]}
  b: {image: b, volumes: ["shared:/s:ro"], tmpfs: [/run], shm_size: 64m}
volumes: {data: {}, shared: {}}
`, nil, kube.Options{VolumeSize: "3Gi"})
	sts := find[*appsv1.StatefulSet](t, res, "db")
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" ||
		sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "3Gi" {
		t.Errorf("owned volume: claim templates %+v, want data of 3Gi", sts.Spec.VolumeClaimTemplates)
	}
	pvc := find[*corev1.PersistentVolumeClaim](t, res, "shared")
	if pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("shared volume access = %v, want ReadWriteMany", pvc.Spec.AccessModes)
	}
	b := find[*appsv1.Deployment](t, res, "b").Spec.Template.Spec
	media := map[string]corev1.StorageMedium{}
	for _, v := range b.Volumes {
		if v.EmptyDir != nil {
			media[v.Name] = v.EmptyDir.Medium
		}
	}
	if len(media) != 2 || media["shm"] != corev1.StorageMediumMemory {
		t.Errorf("tmpfs and shm volumes = %v", media)
	}
}

func TestConvertDropsAreNamedAndStrictFails(t *testing.T) {
	yaml := `
services:
  app:
    image: app
    ulimits: {nofile: 1024}
    stop_signal: SIGINT
    user: www-data
    restart: on-failure
`
	res := mustConvert(t, yaml, nil, kube.Options{})
	w := warnings(res)
	for _, field := range []string{"ulimits", "stop_signal", `user "www-data"`, "restart on-failure"} {
		if !strings.Contains(w, field) {
			t.Errorf("warning does not name %s:\n%s", field, w)
		}
	}
	if len(res.Warnings) != 1 {
		t.Errorf("%d warnings, want one for the service", len(res.Warnings))
	}
	_, err := convert(t, yaml, nil, kube.Options{Strict: true})
	if !errors.Is(err, kube.ErrNotCarried) || !strings.Contains(err.Error(), "ulimits") {
		t.Errorf("--strict: err = %v", err)
	}
}

func TestConvertResources(t *testing.T) {
	res := mustConvert(t, `
services:
  app:
    image: app
    command: ["echo", "$$(date)"]
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 256M}
        reservations: {memory: 128M}
`, nil, kube.Options{})
	c := find[*appsv1.Deployment](t, res, "app").Spec.Template.Spec.Containers[0]
	if c.Resources.Limits.Cpu().String() != "500m" || c.Resources.Limits.Memory().String() != "256Mi" || c.Resources.Requests.Memory().String() != "128Mi" {
		t.Errorf("resources = %+v", c.Resources)
	}
	if c.Args[1] != "$$(date)" {
		t.Errorf("args %q: $(...) must stay literal (Kubernetes expands it)", c.Args)
	}
	_, err := convert(t, "services:\n  app:\n    image: a\n    deploy: {resources: {limits: {memory: 64M}, reservations: {memory: 128M}}}\n", nil, kube.Options{})
	if err == nil || !strings.Contains(err.Error(), "more than its limit") {
		t.Errorf("reservation over the limit: err = %v", err)
	}
}

func TestCheckRefusesBadObjects(t *testing.T) {
	labels := map[string]string{"app": "x"}
	d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "Web_App"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "y"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "i", VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/c"}}}},
				Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "app-cfg"}}}}}}}}}
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "z"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "app_cfg"},
		Data: map[string]string{"my key": "v"}}
	probs := strings.Join(kube.Check([]kube.Object{cm, svc, d}, nil), "\n")
	for _, want := range []string{`Deployment "Web_App": name`, `ConfigMap "app_cfg": name`, `key "my key"`, `ConfigMap "app-cfg" is not in the output`,
		`Service "web": selects no pod template`, "selector does not match"} {
		if !strings.Contains(probs, want) {
			t.Errorf("Check did not report %q; it said:\n%s", want, probs)
		}
	}
	if p := kube.Check(mustConvert(t, "services: {a: {image: a, ports: ['80']}}\n", nil, kube.Options{}).Objects, nil); len(p) != 0 {
		t.Errorf("Check refuses convert's own output: %v", p)
	}
}
