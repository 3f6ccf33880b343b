package deploy

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEveryYAMLFileParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		n++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		docs, err := yamlDocuments(b)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		} else if len(docs) == 0 {
			t.Errorf("%s: no YAML document", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no YAML files found under deploy/")
	}
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
		ResourceFieldRef *struct {
			Resource string `yaml:"resource"`
		} `yaml:"resourceFieldRef"`
	} `yaml:"valueFrom"`
}

type securityContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
}

type container struct {
	Name            string          `yaml:"name"`
	Image           string          `yaml:"image"`
	Ports           []containerPort `yaml:"ports"`
	Env             []envVar        `yaml:"env"`
	LivenessProbe   probe           `yaml:"livenessProbe"`
	ReadinessProbe  probe           `yaml:"readinessProbe"`
	SecurityContext securityContext `yaml:"securityContext"`
	Resources       struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
}

type deployment struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type          string `yaml:"type"`
			RollingUpdate *struct {
				MaxSurge       any `yaml:"maxSurge"`
				MaxUnavailable any `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext securityContext `yaml:"securityContext"`
				Containers      []container     `yaml:"containers"`
				Volumes         []struct {
					Name                  string `yaml:"name"`
					PersistentVolumeClaim *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// The two Deployments: the embedded default (bbolt, one replica) and
// PostgreSQL mode (three replicas).
const (
	boltDeployment     = "kubernetes/deployment.yaml"
	postgresDeployment = "kubernetes/postgres/deployment.yaml"
)

func readDeployment(t *testing.T) (deployment, container) {
	t.Helper()
	return readDeploymentAt(t, boltDeployment)
}

func readDeploymentAt(t *testing.T, path string) (deployment, container) {
	t.Helper()
	var d deployment
	readYAML(t, path, &d)
	if d.Kind != "Deployment" {
		t.Fatalf("%s: kind %q, want Deployment", path, d.Kind)
	}
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%s: %d containers, want 1", path, len(cs))
	}
	return d, cs[0]
}

func (c container) env(name string) (envVar, bool) {
	i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == name })
	if i < 0 {
		return envVar{}, false
	}
	return c.Env[i], true
}

func TestKubernetesDeploymentSingleWriter(t *testing.T) {
	d, _ := readDeployment(t)
	switch {
	case d.Spec.Replicas == nil:
		t.Errorf("spec.replicas is not set (Kubernetes defaults to 1, but say it): want exactly 1")
	case *d.Spec.Replicas != 1:
		t.Errorf("spec.replicas = %d, want exactly 1: bbolt allows one process to open the database", *d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("spec.strategy.type %q, want Recreate: a rolling update runs two pods against one database", d.Spec.Strategy.Type)
	}
}

func TestKubernetesDeploymentProbes(t *testing.T) {
	for _, path := range []string{boltDeployment, postgresDeployment} {
		t.Run(path, func(t *testing.T) { checkProbes(t, path) })
	}
}

func checkProbes(t *testing.T, path string) {
	_, c := readDeploymentAt(t, path)
	probes := []struct {
		name string
		p    probe
		path string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	}
	for _, pr := range probes {
		switch {
		case pr.p.HTTPGet == nil:
			t.Errorf("%s: want an httpGet probe on %s", pr.name, pr.path)
		case pr.p.HTTPGet.Path != pr.path:
			t.Errorf("%s: path %q, want %s", pr.name, pr.p.HTTPGet.Path, pr.path)
		}
	}
}

func TestKubernetesDeploymentHardening(t *testing.T) {
	for _, path := range []string{boltDeployment, postgresDeployment} {
		t.Run(path, func(t *testing.T) { checkHardening(t, path) })
	}
}

func checkHardening(t *testing.T, path string) {
	d, c := readDeploymentAt(t, path)
	pod, sc := d.Spec.Template.Spec.SecurityContext, c.SecurityContext
	isTrue := func(b *bool) bool { return b != nil && *b }
	checks := []struct {
		ok   bool
		what string
	}{
		{isTrue(pod.RunAsNonRoot) || isTrue(sc.RunAsNonRoot), "runAsNonRoot: true"},
		{isTrue(sc.ReadOnlyRootFilesystem), "container readOnlyRootFilesystem: true"},
		{sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "container allowPrivilegeEscalation: false"},
		{slices.Contains(sc.Capabilities.Drop, "ALL"), "container capabilities.drop: [ALL]"},
		{pod.SeccompProfile.Type == "RuntimeDefault" || sc.SeccompProfile.Type == "RuntimeDefault", "seccompProfile RuntimeDefault"},
		{c.Resources.Requests["cpu"] != "" && c.Resources.Requests["memory"] != "", "resources.requests cpu and memory"},
		{c.Resources.Limits["memory"] != "", "resources.limits.memory"},
		{pinned(c.Image), "an image with a pinned tag"},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: want %s", path, ch.what)
		}
	}
	if e, ok := c.env("GOMEMLIMIT"); !ok || e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("GOMEMLIMIT must come from resourceFieldRef limits.memory")
	}
}

func TestKubernetesServiceReachesPod(t *testing.T) {
	for _, dir := range []string{"kubernetes", "kubernetes/postgres"} {
		t.Run(dir, func(t *testing.T) { checkService(t, dir) })
	}
}

func checkService(t *testing.T, dir string) {
	d, c := readDeploymentAt(t, dir+"/deployment.yaml")
	podLabels := d.Spec.Template.Metadata.Labels
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	readYAML(t, dir+"/service.yaml", &svc)
	if len(svc.Spec.Selector) == 0 {
		t.Errorf("service.yaml has no selector")
	}
	for k, v := range svc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("service.yaml selects %s=%s, which the pod template does not have (%v)", k, v, podLabels)
		}
	}
	for _, p := range svc.Spec.Ports {
		if !slices.ContainsFunc(c.Ports, func(cp containerPort) bool {
			return p.TargetPort == cp.Name || p.TargetPort == cp.ContainerPort
		}) {
			t.Errorf("service.yaml targetPort %v is not a port of the container (%v)", p.TargetPort, c.Ports)
		}
	}
}

func TestKubernetesDatabaseOnPersistentVolume(t *testing.T) {
	d, c := readDeployment(t)
	var pvc struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	readYAML(t, "kubernetes/pvc.yaml", &pvc)
	dataVolume := ""
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Metadata.Name {
			dataVolume = v.Name
		}
	}
	if dataVolume == "" {
		t.Fatalf("no volume of deployment.yaml claims the PVC %q of pvc.yaml", pvc.Metadata.Name)
	}
	db, _ := c.env("INCIDENTBOT_DB")
	if !slices.ContainsFunc(c.VolumeMounts, func(m volumeMount) bool {
		return m.Name == dataVolume && strings.HasPrefix(db.Value, strings.TrimSuffix(m.MountPath, "/")+"/")
	}) {
		t.Errorf("INCIDENTBOT_DB %q is not on the persistent volume %q (mounts %v)", db.Value, dataVolume, c.VolumeMounts)
	}
}

func TestKubernetesSecretsFromSecret(t *testing.T) {
	secrets := []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "INCIDENTBOT_WEBHOOK_TOKEN", "INCIDENTBOT_API_TOKEN"}
	t.Run("kubernetes", func(t *testing.T) { checkSecrets(t, "kubernetes", secrets) })
	// The database URL holds a password.
	t.Run("kubernetes/postgres", func(t *testing.T) { checkSecrets(t, "kubernetes/postgres", append(secrets, "INCIDENTBOT_DB")) })
}

func checkSecrets(t *testing.T, dir string, names []string) {
	_, c := readDeploymentAt(t, dir+"/deployment.yaml")
	var secret struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		StringData map[string]string `yaml:"stringData"`
	}
	readYAML(t, dir+"/secret.example.yaml", &secret)
	for _, name := range names {
		e, ok := c.env(name)
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s must come from a secretKeyRef (never a literal value)", name)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if _, ok := secret.StringData[ref.Key]; ref.Name != secret.Metadata.Name || !ok {
			t.Errorf("%s refers to secret %s key %s, which %s/secret.example.yaml (%s: %v) does not show",
				name, dir, ref.Name, ref.Key, secret.Metadata.Name, slices.Sorted(maps.Keys(secret.StringData)))
		}
	}
}

func TestKustomization(t *testing.T) {
	t.Run("kubernetes", func(t *testing.T) { checkKustomization(t, "kubernetes", "deployment.yaml", "service.yaml", "pvc.yaml") })
	t.Run("kubernetes/postgres", func(t *testing.T) {
		checkKustomization(t, "kubernetes/postgres", "deployment.yaml", "service.yaml", "pdb.yaml")
	})
}

func checkKustomization(t *testing.T, dir string, wants ...string) {
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, dir+"/kustomization.yaml", &kust)
	for _, r := range kust.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("%s/kustomization.yaml resource %s: %v", dir, r, err)
		}
	}
	for _, want := range wants {
		if !slices.Contains(kust.Resources, want) {
			t.Errorf("%s/kustomization.yaml does not apply %s", dir, want)
		}
	}
	if slices.Contains(kust.Resources, "secret.example.yaml") {
		t.Errorf("%s/kustomization.yaml must not apply secret.example.yaml (placeholder secrets)", dir)
	}
}

// PostgreSQL mode: three replicas, rolled one new pod at a time without
// dropping below what the PodDisruptionBudget keeps, no volume (the
// state is in the database), and every replica ready only while it
// reaches the database.
func TestKubernetesPostgresReplicas(t *testing.T) {
	d, c := readDeploymentAt(t, postgresDeployment)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("%s: spec.replicas %v, want 3", postgresDeployment, d.Spec.Replicas)
	}
	st := d.Spec.Strategy
	if st.Type != "RollingUpdate" || st.RollingUpdate == nil {
		t.Fatalf("%s: strategy %+v, want RollingUpdate with maxSurge and maxUnavailable set", postgresDeployment, st)
	}
	if ru := st.RollingUpdate; fmt.Sprint(ru.MaxSurge) != "1" || (fmt.Sprint(ru.MaxUnavailable) != "0" && fmt.Sprint(ru.MaxUnavailable) != "1") {
		t.Errorf("%s: rollingUpdate maxSurge %v maxUnavailable %v, want 1 and 0 (or 1)", postgresDeployment, ru.MaxSurge, ru.MaxUnavailable)
	}
	if db, ok := c.env("INCIDENTBOT_DB"); !ok || db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s: INCIDENTBOT_DB must come from the Secret (the URL holds the password)", postgresDeployment)
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("%s: volume %s claims %s; replicas keep no state of their own", postgresDeployment, v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}

	var pdb struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			MinAvailable   any `yaml:"minAvailable"`
			MaxUnavailable any `yaml:"maxUnavailable"`
			Selector       struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	readYAML(t, "kubernetes/postgres/pdb.yaml", &pdb)
	if pdb.APIVersion != "policy/v1" || pdb.Kind != "PodDisruptionBudget" {
		t.Errorf("pdb.yaml: %s %s, want policy/v1 PodDisruptionBudget", pdb.APIVersion, pdb.Kind)
	}
	minAvailable, _ := pdb.Spec.MinAvailable.(int)
	if minAvailable != 2 || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("pdb.yaml: minAvailable %v maxUnavailable %v, want minAvailable 2 only", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
	}
	if d.Spec.Replicas != nil && minAvailable >= *d.Spec.Replicas {
		t.Errorf("pdb.yaml: minAvailable %d of %d replicas would block every drain", minAvailable, *d.Spec.Replicas)
	}
	podLabels := d.Spec.Template.Metadata.Labels
	if len(pdb.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("pdb.yaml selects nothing")
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if podLabels[k] != v {
			t.Errorf("pdb.yaml selects %s=%s, which the pod template does not have (%v)", k, v, podLabels)
		}
	}
}
