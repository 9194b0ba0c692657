package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"offpush/config"
)

// object is one Kubernetes manifest: its identity, and the document to decode its kind from.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	file string
	doc  *yaml.Node
}

type deployment struct {
	Spec struct {
		Replicas int      `yaml:"replicas"`
		Selector selector `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type selector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot   bool `yaml:"runAsNonRoot"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Affinity struct {
		PodAntiAffinity struct {
			Preferred []any `yaml:"preferredDuringSchedulingIgnoredDuringExecution"`
		} `yaml:"podAntiAffinity"`
	} `yaml:"affinity"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
			ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type keyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a container port's name
	} `yaml:"httpGet"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name  string    `yaml:"name"`
		Items []keyPath `yaml:"items"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string    `yaml:"secretName"`
		Items      []keyPath `yaml:"items"`
	} `yaml:"secret"`
}

type keyPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

// manifests are the objects of deploy/kubernetes.
type manifests []object

// readManifests decodes every document of every YAML file in deploy/kubernetes.
func readManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, kubernetesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no manifests (%v)", kubernetesDir, err)
	}
	var objs manifests
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			o := object{file: filepath.Base(f), doc: doc}
			if err := doc.Decode(&o); err != nil || o.Kind == "" || o.APIVersion == "" {
				t.Fatalf("%s: not a Kubernetes object (kind %q, apiVersion %q, %v)", f, o.Kind, o.APIVersion, err)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

// get decodes the object of kind and name into v, failing the test if there is none.
func (m manifests) get(t *testing.T, kind, name string, v any) {
	t.Helper()
	i := slices.IndexFunc(m, func(o object) bool { return o.Kind == kind && (name == "" || o.Metadata.Name == name) })
	if i < 0 {
		t.Fatalf("%s: no %s %q", kubernetesDir, kind, name)
	}
	if err := m[i].doc.Decode(v); err != nil {
		t.Fatalf("%s: %s %s: %v", m[i].file, kind, name, err)
	}
}

// worker returns the offpush Deployment and its one container.
func (m manifests) worker(t *testing.T) (deployment, container) {
	t.Helper()
	var d deployment
	m.get(t, "Deployment", "offpush", &d)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment offpush: %d containers, want 1", n)
	}
	return d, d.Spec.Template.Spec.Containers[0]
}

// containerEnv returns the container's environment as the worker sees it; values from a
// Secret or ConfigMap are replaced by a placeholder (the Secret here is a template).
func containerEnv(c container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.Value != nil {
			env[e.Name] = *e.Value
		} else {
			env[e.Name] = "placeholder-" + strings.ToLower(e.Name)
		}
	}
	return env
}

// kubernetesConfigFile writes the ConfigMap's config.yaml to a file and returns its path.
func kubernetesConfigFile(t *testing.T) string {
	t.Helper()
	m := readManifests(t)
	_, c := m.worker(t)
	f := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(f, []byte(m.mountedFile(t, c, configPathArg(t, c))), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// kubernetesConfig loads the ConfigMap's configuration with the container's environment.
func kubernetesConfig(t *testing.T) config.Config {
	t.Helper()
	_, c := readManifests(t).worker(t)
	return loadConfig(t, kubernetesConfigFile(t), containerEnv(c))
}

// configPathArg returns the FILE of the container's args run --config FILE.
func configPathArg(t *testing.T, c container) string {
	t.Helper()
	if len(c.Args) != 3 || c.Args[0] != "run" || c.Args[1] != "--config" {
		t.Fatalf("Deployment offpush: args %q, want run --config FILE", c.Args)
	}
	return c.Args[2]
}

// mountedFile returns the content of the file at path p in container c: the key of the
// ConfigMap or Secret whose volume is mounted there. It fails the test if no volume provides it.
func (m manifests) mountedFile(t *testing.T, c container, p string) string {
	t.Helper()
	kind, name, key := m.mountedKey(t, c, p)
	if kind == "" || key == "" {
		t.Fatalf("Deployment offpush: no ConfigMap or Secret volume (or none of its items) provides %s", p)
	}
	var data struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	m.get(t, kind, name, &data)
	v, ok := data.Data[key]
	if !ok {
		v, ok = data.StringData[key]
	}
	if !ok {
		t.Fatalf("%s %s: no key %q (mounted at %s)", kind, name, key, p)
	}
	return v
}

// mountedKey finds the volume mount of c holding path p and returns the kind and name of
// the ConfigMap or Secret behind it and the key that is the file.
func (m manifests) mountedKey(t *testing.T, c container, p string) (kind, name, key string) {
	t.Helper()
	d, _ := m.worker(t) // the Deployment has one container: c's volumes are its volumes
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok || strings.Contains(rel, "/") {
			continue
		}
		i := slices.IndexFunc(d.Spec.Template.Spec.Volumes, func(v volume) bool { return v.Name == vm.Name })
		if i < 0 {
			t.Fatalf("Deployment offpush: volumeMount %s has no volume", vm.Name)
		}
		switch v := d.Spec.Template.Spec.Volumes[i]; {
		case v.ConfigMap != nil:
			return "ConfigMap", v.ConfigMap.Name, itemKey(v.ConfigMap.Items, rel)
		case v.Secret != nil:
			return "Secret", v.Secret.SecretName, itemKey(v.Secret.Items, rel)
		}
	}
	return "", "", ""
}

// itemKey returns the key projected to file rel by items; without items every key is a file.
func itemKey(items []keyPath, rel string) string {
	if len(items) == 0 {
		return rel
	}
	for _, it := range items {
		if it.Path == rel {
			return it.Key
		}
	}
	return ""
}

// containerPort resolves a probe's or Service's port (a number or a port name) to the
// container's port number.
func containerPort(t *testing.T, c container, p string) int {
	t.Helper()
	if n, err := strconv.Atoi(p); err == nil {
		return n
	}
	for _, cp := range c.Ports {
		if cp.Name == p {
			return cp.ContainerPort
		}
	}
	t.Fatalf("container %s: no port named %q", c.Name, p)
	return 0
}

// TestKustomization checks kustomization.yaml lists exactly the manifests of the directory.
func TestKustomization(t *testing.T) {
	var k struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join(root, kubernetesDir, "kustomization.yaml"), &k)
	files, _ := filepath.Glob(filepath.Join(root, kubernetesDir, "*.yaml"))
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources %q, want the directory's manifests %q", got, want)
	}
}

// TestKubernetesConfig checks the ConfigMap's configuration loads and validates with the
// Deployment's environment, and each OFFPUSH_ variable the Deployment sets is a real key.
func TestKubernetesConfig(t *testing.T) {
	_, c := readManifests(t).worker(t)
	cfg := kubernetesConfig(t)
	checkVariables(t, kubernetesConfigFile(t), containerEnv(c))
	for _, want := range []string{"OFFPUSH_API_TOKENS"} {
		if _, ok := containerEnv(c)[want]; !ok {
			t.Errorf("Deployment offpush: no %s", want)
		}
	}
	for _, cert := range cfg.APNs.Certificates {
		if cert.P12File != "" && cert.P12PasswordFile == "" && cert.P12Password == "" {
			t.Errorf("certificate %d: no p12 password from the Secret", cert.ID)
		}
	}
}

// TestKubernetesWiring checks what links the objects: ports, probes, names, files.
func TestKubernetesWiring(t *testing.T) {
	m := readManifests(t)
	d, c := m.worker(t)
	cfg := kubernetesConfig(t)
	api, ops := port(t, cfg.API.Addr), port(t, cfg.Ops.Addr)

	for name, p := range map[string]*probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		if p == nil {
			t.Errorf("Deployment offpush: no %s", name)
			continue
		}
		if got := containerPort(t, c, p.HTTPGet.Port); got != ops {
			t.Errorf("Deployment offpush: %s on port %d, ops.addr is %s", name, got, cfg.Ops.Addr)
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readinessProbe path %q, want /readyz", c.ReadinessProbe.HTTPGet.Path)
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("livenessProbe path %q, want /healthz (not /readyz: a dependency outage must not restart every pod)", c.LivenessProbe.HTTPGet.Path)
	}
	grace := time.Duration(d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace <= cfg.Pipeline.ShutdownGrace {
		t.Errorf("terminationGracePeriodSeconds %s, want more than pipeline.shutdownGrace %s", grace, cfg.Pipeline.ShutdownGrace)
	}
	checkService(t, m, c, map[string]int{"api": api, "ops": ops})
	checkSelectors(t, m, d)
	for _, f := range append(usedFiles(cfg), configPathArg(t, c)) {
		m.mountedFile(t, c, f) // fails if no ConfigMap/Secret key is mounted at f
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			checkSecretKey(t, m, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, e.Name)
		}
	}
}

// checkService checks the Service publishes each port name on the container port that the
// configuration listens on.
func checkService(t *testing.T, m manifests, c container, want map[string]int) {
	t.Helper()
	var svc struct {
		Spec struct {
			Ports []servicePort `yaml:"ports"`
		} `yaml:"spec"`
	}
	m.get(t, "Service", "offpush", &svc)
	for name, p := range want {
		i := slices.IndexFunc(svc.Spec.Ports, func(sp servicePort) bool { return sp.Name == name })
		if i < 0 {
			t.Errorf("Service offpush: no port %q", name)
			continue
		}
		sp := svc.Spec.Ports[i]
		if got := containerPort(t, c, sp.TargetPort); got != p || sp.Port != p {
			t.Errorf("Service offpush: port %s is %d → container %d, want %d (the config's address)", name, sp.Port, got, p)
		}
	}
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"` // a number or a container port's name
}

// checkSelectors checks the Deployment, Service and PodDisruptionBudget select the pods.
func checkSelectors(t *testing.T, m manifests, d deployment) {
	t.Helper()
	pod := d.Spec.Template.Metadata.Labels
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
		} `yaml:"spec"`
	}
	m.get(t, "Service", "offpush", &svc)
	var pdb struct {
		Spec struct {
			MaxUnavailable int      `yaml:"maxUnavailable"`
			Selector       selector `yaml:"selector"`
		} `yaml:"spec"`
	}
	m.get(t, "PodDisruptionBudget", "", &pdb)
	for what, sel := range map[string]map[string]string{
		"Deployment selector": d.Spec.Selector.MatchLabels,
		"Service selector":    svc.Spec.Selector,
		"PDB selector":        pdb.Spec.Selector.MatchLabels,
	} {
		if len(sel) == 0 || !subset(sel, pod) {
			t.Errorf("%s %v does not select the pod labels %v", what, sel, pod)
		}
	}
	if pdb.Spec.MaxUnavailable != 1 {
		t.Errorf("PodDisruptionBudget: maxUnavailable %d, want 1", pdb.Spec.MaxUnavailable)
	}
}

// checkSecretKey checks the Secret name exists in the manifests with key.
func checkSecretKey(t *testing.T, m manifests, name, key, user string) {
	t.Helper()
	var s struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	m.get(t, "Secret", name, &s)
	if _, ok := s.Data[key]; !ok {
		if _, ok := s.StringData[key]; !ok {
			t.Errorf("%s: Secret %s has no key %q", user, name, key)
		}
	}
}

func subset(sub, set map[string]string) bool {
	for k, v := range sub {
		if set[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesPodHardening checks the production settings of the pod: replicas, spreading,
// resources and a locked-down security context.
func TestKubernetesPodHardening(t *testing.T) {
	d, c := readManifests(t).worker(t)
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas < 2 {
		t.Errorf("replicas %d: want at least 2", d.Spec.Replicas)
	}
	if len(pod.Affinity.PodAntiAffinity.Preferred) == 0 {
		t.Errorf("no preferred pod anti-affinity: replicas may share a node")
	}
	if !pod.SecurityContext.RunAsNonRoot {
		t.Errorf("securityContext.runAsNonRoot is not true")
	}
	if pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("seccompProfile %q, want RuntimeDefault", pod.SecurityContext.SeccompProfile.Type)
	}
	sc := c.SecurityContext
	if !sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext: readOnlyRootFilesystem %t, allowPrivilegeEscalation %v, drop %q: want true, false, ALL",
			sc.ReadOnlyRootFilesystem, sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation, sc.Capabilities.Drop)
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("resources: %s request and limit required", r)
		}
	}
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("volumeMount %s is not readOnly", vm.Name)
		}
	}
}

// TestKEDAScaledObject checks the autoscaler watches the worker's consumer group and topic
// and never asks for more workers than the topic has partitions.
func TestKEDAScaledObject(t *testing.T) {
	m := readManifests(t)
	cfg := kubernetesConfig(t)
	var so struct {
		Spec struct {
			ScaleTargetRef struct {
				Name string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicaCount int `yaml:"minReplicaCount"`
			MaxReplicaCount int `yaml:"maxReplicaCount"`
			Triggers        []struct {
				Type     string            `yaml:"type"`
				Metadata map[string]string `yaml:"metadata"`
			} `yaml:"triggers"`
		} `yaml:"spec"`
	}
	m.get(t, "ScaledObject", "", &so)
	if so.Spec.ScaleTargetRef.Name != "offpush" {
		t.Errorf("ScaledObject targets %q, want the Deployment offpush", so.Spec.ScaleTargetRef.Name)
	}
	// The partition count of im.messages is written once, in the compose topic init.
	partitions := composeTopics(t, readCompose(t))[cfg.Kafka.Topic]
	if so.Spec.MinReplicaCount < 1 || so.Spec.MaxReplicaCount > partitions || so.Spec.MinReplicaCount > so.Spec.MaxReplicaCount {
		t.Errorf("ScaledObject replicas %d..%d, want 1 ≤ min ≤ max ≤ %d (partitions of %s)",
			so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount, partitions, cfg.Kafka.Topic)
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
		t.Fatalf("ScaledObject triggers %+v, want one kafka trigger", so.Spec.Triggers)
	}
	md := so.Spec.Triggers[0].Metadata
	want := map[string]string{
		"consumerGroup":    cfg.Kafka.GroupID,
		"topic":            cfg.Kafka.Topic,
		"bootstrapServers": strings.Join(cfg.Kafka.Brokers, ","),
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("kafka trigger %s %q, want %q (from the configuration)", k, md[k], v)
		}
	}
	if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n <= 0 {
		t.Errorf("kafka trigger lagThreshold %q: want a positive number", md["lagThreshold"])
	}
}

// TestKubectl renders the kustomization with kubectl, when kubectl is installed. It does not
// run `kubectl apply --dry-run=client`: even a client dry run fetches the API discovery
// document from a server (checked with kubectl 1.32), and without a kubeconfig it would dial
// localhost:8080, where an offpush state API may be listening.
func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectl, "kustomize", filepath.Join(root, kubernetesDir)).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", kubernetesDir, err, out)
	}
	f := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(f, out, 0o600); err != nil {
		t.Fatal(err)
	}
	var rendered []string
	for _, doc := range yamlDocs(t, f) {
		var o object
		if err := doc.Decode(&o); err != nil {
			t.Fatal(err)
		}
		rendered = append(rendered, o.Kind+"/"+o.Metadata.Name)
	}
	var want []string
	for _, o := range readManifests(t) {
		if o.Kind != "Kustomization" {
			want = append(want, o.Kind+"/"+o.Metadata.Name)
		}
	}
	slices.Sort(rendered)
	slices.Sort(want)
	if !slices.Equal(rendered, want) {
		t.Errorf("kubectl kustomize rendered %q, want %q", rendered, want)
	}
}
