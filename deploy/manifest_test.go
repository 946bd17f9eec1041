package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/kube"
)

// manifest is deploy/casebook-agent.yaml, decoded strictly by kind.
type manifest struct {
	namespace  *corev1.Namespace
	account    *corev1.ServiceAccount
	role       *rbacv1.ClusterRole
	binding    *rbacv1.ClusterRoleBinding
	deployment *appsv1.Deployment
	service    *corev1.Service
	other      map[string][]map[string]any
}

func load(t *testing.T) *manifest {
	t.Helper()
	raw, err := os.ReadFile("casebook-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, raw)
	if m.namespace == nil || m.account == nil || m.role == nil || m.binding == nil || m.deployment == nil || m.service == nil {
		t.Fatalf("the manifest lacks a kind: %+v", m)
	}
	return m
}

// parse decodes a multi-document YAML stream strictly by kind. The kinds
// only the Helm chart renders (the ignore-list ConfigMap, the
// prometheus-operator objects) are kept as generic maps in other.
func parse(t *testing.T, raw []byte) *manifest {
	t.Helper()
	m := &manifest{other: map[string][]map[string]any{}}
	r := utilyaml.NewYAMLReader(bufioReader(raw))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		var into any
		switch meta.Kind {
		case "Namespace":
			m.namespace = &corev1.Namespace{}
			into = m.namespace
		case "ServiceAccount":
			m.account = &corev1.ServiceAccount{}
			into = m.account
		case "ClusterRole":
			m.role = &rbacv1.ClusterRole{}
			into = m.role
		case "ClusterRoleBinding":
			m.binding = &rbacv1.ClusterRoleBinding{}
			into = m.binding
		case "Deployment":
			m.deployment = &appsv1.Deployment{}
			into = m.deployment
		case "Service":
			m.service = &corev1.Service{}
			into = m.service
		case "ConfigMap", "ServiceMonitor", "PrometheusRule":
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Fatalf("%s: %v", meta.Kind, err)
			}
			m.other[meta.Kind] = append(m.other[meta.Kind], obj)
			continue
		default:
			t.Fatalf("unexpected kind %q in the manifest", meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
	return m
}

func TestClusterRoleIsReadOnly(t *testing.T) {
	m := load(t)
	if len(m.role.Rules) == 0 {
		t.Fatal("the ClusterRole has no rules")
	}
	if m.role.AggregationRule != nil {
		t.Error("the ClusterRole aggregates other roles: its permissions would not be these rules")
	}
	for i, r := range m.role.Rules {
		verbs := slices.Clone(r.Verbs)
		sort.Strings(verbs)
		// Two rules are get only: container logs and the API server's
		// metrics, exactly these.
		if slices.Equal(r.Resources, []string{"pods/log"}) && slices.Equal(r.APIGroups, []string{""}) && slices.Equal(verbs, []string{"get"}) ||
			slices.Equal(r.NonResourceURLs, []string{"/metrics"}) && len(r.Resources) == 0 && slices.Equal(verbs, []string{"get"}) {
			continue
		}
		if !slices.Equal(verbs, []string{"get", "list", "watch"}) {
			t.Errorf("rule %d (%v %v): verbs %v, want exactly get, list, watch", i, r.APIGroups, r.Resources, r.Verbs)
		}
		if len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %d: nonResourceURLs %v", i, r.NonResourceURLs)
		}
		for _, g := range r.APIGroups {
			if g == "*" {
				t.Errorf("rule %d: every API group", i)
			}
		}
		for _, res := range r.Resources {
			if res == "*" && !slices.Equal(r.APIGroups, []string{"constraints.gatekeeper.sh"}) {
				t.Errorf("rule %d: every resource of %v (only Gatekeeper's constraint kinds, named by their templates, need it)", i, r.APIGroups)
			}
			if strings.Contains(res, "/") {
				t.Errorf("rule %d: subresource %s", i, res)
			}
		}
	}
	b := m.binding
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != m.role.Name {
		t.Errorf("the binding refers to %s %s, not the ClusterRole %s", b.RoleRef.Kind, b.RoleRef.Name, m.role.Name)
	}
	if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != m.account.Name || b.Subjects[0].Namespace != m.account.Namespace {
		t.Errorf("the binding's subjects %+v are not the agent's ServiceAccount", b.Subjects)
	}
}

// allows reports whether the role lets the agent list resource in group.
func allows(role *rbacv1.ClusterRole, group, resource string) bool {
	for _, r := range role.Rules {
		if !slices.Contains(r.Verbs, "list") || !slices.Contains(r.APIGroups, group) {
			continue
		}
		if slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*") {
			return true
		}
	}
	return false
}

// TestClusterRoleCoversDetectors checks the ClusterRole against the kinds
// the detectors declare (detectors.Kinds, the list a run preloads): the
// agent must be allowed to list each of them, or a detector would be
// skipped with a warning in the cluster. That the detectors read nothing
// else is tested in internal/detectors.
func TestClusterRoleCoversDetectors(t *testing.T) {
	m := load(t)
	kinds := detectors.Kinds()
	if len(kinds) < 10 {
		t.Fatalf("the detectors declare only %v", kinds)
	}
	for _, kind := range kinds {
		gk := kube.ParseKind(kind)
		resource := strings.ToLower(gk.Kind) + "s"
		if info := kube.Lookup(kind); info != nil {
			resource = info.Resource
		} else if strings.HasPrefix(string(kind), "*.") {
			gk.Group, resource = strings.TrimPrefix(string(kind), "*."), "*"
		}
		if !allows(m.role, gk.Group, resource) {
			t.Errorf("a detector reads %s (group %q, resource %s) but the ClusterRole in casebook-agent.yaml does not allow it: add it with get, list, watch", kind, gk.Group, resource)
		}
	}
}

func TestDeploymentIsLockedDown(t *testing.T) {
	m := load(t)
	checkLockedDown(t, m, m.namespace.Name)
	a := m.service.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("service annotations %v: want Prometheus to scrape :8080/metrics", a)
	}
}

// checkLockedDown checks the agent's Deployment and Service, as the plain
// manifest and the Helm chart both make them, in namespace ns.
func checkLockedDown(t *testing.T, m *manifest, ns string) {
	t.Helper()
	d := m.deployment
	spec := d.Spec.Template.Spec
	if d.Namespace != ns || m.account.Namespace != ns || m.service.Namespace != ns {
		t.Errorf("namespaces: deployment %q, account %q, service %q, want %q", d.Namespace, m.account.Namespace, m.service.Namespace, ns)
	}
	if spec.ServiceAccountName != m.account.Name {
		t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, m.account.Name)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("the pod shares a host namespace")
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		t.Fatalf("want one container, got %d (+%d init)", len(spec.Containers), len(spec.InitContainers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("the container has no securityContext")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("the container is privileged")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the container's runAsNonRoot is not true")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and no add", sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("container seccompProfile is not RuntimeDefault")
	}
	if len(c.Args) == 0 || c.Args[0] != "agent" {
		t.Errorf("args %v do not run casebook agent", c.Args)
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Memory().Value() < 256<<20 || lim.Memory().Cmp(*req.Memory()) < 0 || req.Cpu().IsZero() {
		t.Errorf("resources %+v: want a memory request of about 300Mi (the benchmark's live RSS), a limit at least that, and a CPU request", c.Resources)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("the readiness probe is not GET /readyz")
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("the liveness probe is not GET /healthz")
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want 8080", c.Ports)
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s mounts a host path", v.Name)
		}
	}

	s := m.service
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 8080 || s.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name {
		t.Errorf("service ports %+v, want 8080 to the container's %q", s.Spec.Ports, c.Ports[0].Name)
	}
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the service selects %s=%s, which the pods do not carry", k, v)
		}
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the deployment selects %s=%s, which its pods do not carry", k, v)
		}
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
