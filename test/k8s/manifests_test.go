// Package k8s checks deploy/kubernetes without a cluster: every document
// decodes strictly (unknown or misspelled fields and wrong types fail) into
// the Kubernetes API's own Go types, and the pieces fit together (selectors
// match pod labels, probes name a declared port and Paddock's endpoints,
// settings come from the ConfigMap). It is a separate module so that the
// Kubernetes API types stay out of Paddock's own dependencies.
package k8s

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

type manifests struct {
	deployments map[string]*appsv1.Deployment
	pdbs        []*policyv1.PodDisruptionBudget
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
}

func load(t *testing.T) manifests {
	t.Helper()
	m := manifests{deployments: map[string]*appsv1.Deployment{}, configMaps: map[string]*corev1.ConfigMap{}}
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			var obj any
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				obj, m.deployments[f+"#"+meta.Kind] = d, d
			case "policy/v1 PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				obj, m.pdbs = p, append(m.pdbs, p)
			case "v1 Service":
				s := &corev1.Service{}
				obj, m.services = s, append(m.services, s)
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			default:
				t.Fatalf("%s #%d: unexpected %s %s", f, i, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s #%d (%s): %v", f, i, meta.Kind, err)
			}
			if c, ok := obj.(*corev1.ConfigMap); ok {
				m.configMaps[c.Name] = c
			}
		}
	}
	return m
}

func TestManifestsDecodeStrictlyAndFit(t *testing.T) {
	m := load(t)
	if len(m.deployments) != 2 || len(m.pdbs) != 1 || len(m.services) != 1 || len(m.configMaps) != 1 {
		t.Fatalf("want 2 deployments, a PDB, a service and a config map; got %d, %d, %d, %d",
			len(m.deployments), len(m.pdbs), len(m.services), len(m.configMaps))
	}
	cm := m.configMaps["paddock"]
	if cm == nil || cm.Data["PADDOCK_ZK"] == "" || cm.Data["PADDOCK_HTTP_ADDR"] == "" {
		t.Fatalf("config map paddock lacks PADDOCK_ZK or PADDOCK_HTTP_ADDR: %+v", cm)
	}
	for name, d := range m.deployments {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector %v does not match the pod labels %v", name, d.Spec.Selector, d.Spec.Template.Labels)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			checkContainer(t, name, c)
		}
	}
	for _, p := range m.pdbs {
		sel, _ := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		matched := 0
		for _, d := range m.deployments {
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				matched++
				if d.Spec.Template.Labels["app.kubernetes.io/component"] != "master" {
					t.Errorf("PDB %s selects %s", p.Name, d.Name)
				}
				if d.Spec.Replicas == nil || p.Spec.MinAvailable == nil || int32(p.Spec.MinAvailable.IntValue()) >= *d.Spec.Replicas {
					t.Errorf("PDB %s: minAvailable must leave room for one disruption of %s", p.Name, d.Name)
				}
			}
		}
		if matched != 1 {
			t.Errorf("PDB %s selects %d deployments, want the masters", p.Name, matched)
		}
	}
	for _, s := range m.services {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		found := false
		for _, d := range m.deployments {
			found = found || sel.Matches(labels.Set(d.Spec.Template.Labels))
		}
		if !found {
			t.Errorf("service %s selects no pods", s.Name)
		}
	}
}

func checkContainer(t *testing.T, deployment string, c corev1.Container) {
	t.Helper()
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	for what, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		want := map[string]string{"readiness": "/readyz", "liveness": "/livez"}[what]
		switch {
		case probe == nil || probe.HTTPGet == nil:
			t.Errorf("%s/%s: no HTTP %s probe", deployment, c.Name, what)
		case probe.HTTPGet.Path != want:
			t.Errorf("%s/%s: %s probe on %s, want %s", deployment, c.Name, what, probe.HTTPGet.Path, want)
		case !ports[probe.HTTPGet.Port.String()]:
			t.Errorf("%s/%s: %s probe on port %q, which the container does not declare", deployment, c.Name, what, probe.HTTPGet.Port.String())
		}
	}
	if len(c.Command) != 1 || !strings.HasPrefix(c.Command[0], "paddock-") {
		t.Errorf("%s/%s: command %v is not one of the image's binaries", deployment, c.Name, c.Command)
	}
	fromCM := false
	for _, e := range c.EnvFrom {
		fromCM = fromCM || (e.ConfigMapRef != nil && e.ConfigMapRef.Name == "paddock")
	}
	if !fromCM {
		t.Errorf("%s/%s: settings not taken from the paddock config map", deployment, c.Name)
	}
}
