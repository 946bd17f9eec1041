package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// customGroups are the API groups of the custom resources fixtures hold,
// which the bare API server does not serve until their CRDs exist:
// Gatekeeper's ConstraintTemplates and the constraint kinds they create
// (Gatekeeper names a constraint kind's resource after the kind in lower
// case). All of them are cluster-scoped.
var customGroups = map[string]func(kind string) string{
	"templates.gatekeeper.sh":   func(kind string) string { return strings.ToLower(kind) + "s" },
	"constraints.gatekeeper.sh": func(kind string) string { return strings.ToLower(kind) },
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ensureCRDs creates a CRD for every custom kind among objs that the API
// server does not serve yet: any fields, a status subresource (status is
// written as for built-in kinds). The CRDs stay for later fixtures, as
// namespaces do.
func (c *cluster) ensureCRDs(t testing.TB, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	made := false
	seen := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		plural := customGroups[gvk.Group]
		if plural == nil || seen[gvk] {
			continue
		}
		seen[gvk] = true
		if _, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			continue
		}
		name := plural(gvk.Kind) + "." + gvk.Group
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": name},
			"spec": map[string]any{
				"group": gvk.Group,
				"names": map[string]any{"kind": gvk.Kind, "listKind": gvk.Kind + "List", "plural": plural(gvk.Kind),
					"singular": strings.ToLower(gvk.Kind)},
				"scope": "Cluster",
				"versions": []any{map[string]any{
					"name": gvk.Version, "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
					"subresources": map[string]any{"status": map[string]any{}},
				}},
			},
		}}
		if _, err := c.dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create CRD %s: %v", name, err)
		}
		c.waitEstablished(t, name)
		made = true
	}
	if made {
		if r, ok := c.mapper.(interface{ Reset() }); ok {
			r.Reset()
		}
	}
}

func (c *cluster) waitEstablished(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		crd, err := c.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CRD %s is not established", name)
}

// fixtureGeneration returns an object's metadata.generation as the fixture
// has it: readObjects decodes numbers as float64, which GetGeneration does
// not read.
func fixtureGeneration(o *unstructured.Unstructured) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(o.Object, "metadata", "generation")
	switch g := v.(type) {
	case int64:
		return g
	case float64:
		return int64(g)
	}
	return 0
}

// genField is the spec field customGeneration changes to count up a custom
// resource's generation; it is gone again at the end.
const genField = "casebookE2EGeneration"

// customGeneration prepares a custom resource so that it can reach the
// fixture's metadata.generation, which detectors compare with the
// observedGeneration in its status: the API server starts every object at
// 1 and adds one for every change of its spec. The object is created with
// an extra spec field; the returned function changes that field until the
// generation is one short, then removes it.
func customGeneration(obj *unstructured.Unstructured, want int64) func(testing.TB, dynamic.ResourceInterface, *unstructured.Unstructured) *unstructured.Unstructured {
	keep := func(_ testing.TB, _ dynamic.ResourceInterface, u *unstructured.Unstructured) *unstructured.Unstructured {
		return u
	}
	if customGroups[obj.GroupVersionKind().Group] == nil || want < 2 {
		return keep
	}
	_ = unstructured.SetNestedField(obj.Object, int64(0), "spec", genField)
	return func(t testing.TB, ri dynamic.ResourceInterface, u *unstructured.Unstructured) *unstructured.Unstructured {
		t.Helper()
		patch := func(v any) {
			p, _ := json.Marshal(map[string]any{"spec": map[string]any{genField: v}})
			var err error
			if u, err = ri.Patch(context.Background(), u.GetName(), types.MergePatchType, p, metav1.PatchOptions{}); err != nil {
				t.Fatalf("patch %s %s: %v", u.GetKind(), u.GetName(), err)
			}
		}
		for i := int64(1); u.GetGeneration() < want-1; i++ {
			patch(i)
		}
		patch(nil)
		if u.GetGeneration() != want {
			t.Fatalf("%s %s: generation %d, want %d", u.GetKind(), u.GetName(), u.GetGeneration(), want)
		}
		return u
	}
}

// TestCollectCustomResources collects a cluster with Gatekeeper installed:
// the bundle must hold its ConstraintTemplates and constraints, and
// diagnose like the cluster (O-003 reads them).
func TestCollectCustomResources(t *testing.T) {
	c := connect(t)
	// The reader first: once Gatekeeper's webhooks are loaded, the API
	// server rejects namespace writes (check-ignore-label fails closed).
	reader := c.readerConfig(t, "reader", readOnlyRules)
	dir := "../internal/detectors/testdata/O-003/broken"
	c.load(t, dir)
	ctx := context.Background()
	kc := writeKubeconfig(t, reader)
	bundle, errOut := collectBundle(t, ctx, kc)
	if strings.Contains(errOut, "warning") {
		t.Errorf("collect warned:\n%s", errOut)
	}
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, raw)
	for _, name := range []string{"cluster/constrainttemplates.templates.gatekeeper.sh.yaml", "cluster/k8srequiredlabels.constraints.gatekeeper.sh.yaml",
		"cluster/validatingwebhookconfigurations.yaml"} {
		if len(files[name]) == 0 {
			t.Errorf("the bundle has no %s", name)
		}
	}
	fromBundle := requireBundleMatchesCluster(t, bundle, reader)
	found := false
	for _, f := range fromBundle.Findings {
		found = found || (f.CaseID == "O-003" && f.Cause == "pods-behind")
	}
	if !found {
		t.Error("the bundle does not show O-003 pods-behind: the constraints are missing from it")
	}
}
