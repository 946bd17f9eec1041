package reproduce

import (
	"strings"
	"testing"
	"testing/fstest"

	casebook "github.com/casebook-dev/casebook"
	repros "github.com/casebook-dev/casebook/cases/reproduce"
)

// TestEmbeddedReproductions loads every reproduction shipped in the binary:
// each must load, keep the bounds, and name an existing case directory.
func TestEmbeddedReproductions(t *testing.T) {
	all, err := LoadAll(repros.FS())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all["K-002"]; !ok {
		t.Fatalf("K-002 has no reproduction; have %v", IDs(all))
	}
	for id, r := range all {
		if r.Namespace() != "casebook-lab-"+strings.ToLower(id) {
			t.Errorf("%s: namespace %s", id, r.Namespace())
		}
		for _, u := range append(r.Prepared(r.Broken), r.Prepared(r.Fix)...) {
			if u.GetLabels()[LabelKey] != LabelValue(id) {
				t.Errorf("%s: %s %s not labelled", id, u.GetKind(), u.GetName())
			}
			if IsClusterScoped(u) {
				if u.GetNamespace() != "" || !strings.HasPrefix(u.GetName(), NamePrefix) {
					t.Errorf("%s: cluster-scoped %s %s out of bounds", id, u.GetKind(), u.GetName())
				}
			} else if u.GetNamespace() != r.Namespace() {
				t.Errorf("%s: %s %s in namespace %q", id, u.GetKind(), u.GetName(), u.GetNamespace())
			}
		}
		if len(r.Needs) == 0 {
			t.Errorf("%s: README front matter lists no needs", id)
		}
	}
}

func repro(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

const readme = "---\ncase: X-001\nneeds: [nodes]\ntimeout: 30s\n---\n# x\n"

const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: [{name: c, image: i}]\n"

// TestLoadRefuses proves each bound with a reproduction that breaks it.
func TestLoadRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, broken, want string
	}{
		{"own namespace", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n", "sets metadata.namespace"},
		{"unprefixed RuntimeClass", "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: wasmedge}\nhandler: wasmedge\n", "must be named casebook-lab-"},
		{"unprefixed constraint", "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata: {name: need-owner}\n", "must be named casebook-lab-"},
		{"a Secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "may not create a Secret"},
		{"a ClusterRoleBinding", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: casebook-lab-x}\n", "may not create a ClusterRoleBinding"},
		{"twice", pod + "---\n" + pod, "listed twice"},
		{"no name", "apiVersion: v1\nkind: Pod\nmetadata: {}\n", "needs apiVersion, kind and metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(repro(map[string]string{"X-001/README.md": readme, "X-001/broken.yaml": tc.broken, "X-001/fix.yaml": pod}), "X-001")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	_, err := Load(repro(map[string]string{"X-001/README.md": strings.Replace(readme, "X-001", "X-002", 1), "X-001/broken.yaml": pod, "X-001/fix.yaml": pod}), "X-001")
	if err == nil || !strings.Contains(err.Error(), "does not match its directory") {
		t.Errorf("mismatched case: err = %v", err)
	}
	_, err = Load(repro(map[string]string{"X-001/README.md": "# no front matter\n", "X-001/broken.yaml": pod, "X-001/fix.yaml": pod}), "X-001")
	if err == nil || !strings.Contains(err.Error(), "no front matter") {
		t.Errorf("no front matter: err = %v", err)
	}
}

// TestPlanAndRemoved: the fix is the whole state after the solution, so an
// object of broken it leaves out is deleted, and the plan says so.
func TestPlanAndRemoved(t *testing.T) {
	rc := "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: casebook-lab-wasm}\nhandler: wasmedge\n"
	r, err := Load(repro(map[string]string{"X-001/README.md": readme, "X-001/broken.yaml": pod + "---\n" + rc, "X-001/fix.yaml": pod}), "X-001")
	if err != nil {
		t.Fatal(err)
	}
	if r.Timeout.String() != "30s" {
		t.Errorf("timeout %s", r.Timeout)
	}
	removed := r.Removed()
	if len(removed) != 1 || removed[0].GetName() != "casebook-lab-wasm" {
		t.Fatalf("removed %v", removed)
	}
	plan := strings.Join(r.Plan(), "\n")
	for _, want := range []string{
		"create Namespace casebook-lab-x-001 (label casebook.dev/reproduce=x-001)",
		"broken: apply Pod p (v1, namespace casebook-lab-x-001)",
		"broken: apply RuntimeClass casebook-lab-wasm (node.k8s.io/v1, cluster-scoped)",
		"fix: delete RuntimeClass casebook-lab-wasm",
		"cleanup: delete Namespace casebook-lab-x-001",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
}

// TestMine keeps only the case's findings about the lab's own objects.
func TestMine(t *testing.T) {
	r := &Reproduction{CaseID: "K-002"}
	fs := []casebook.Finding{
		{CaseID: "K-002", Objects: []casebook.ObjectRef{{Kind: "Pod", Namespace: "shop", Name: "web"}}},
		{CaseID: "K-003", Objects: []casebook.ObjectRef{{Kind: "Pod", Namespace: "casebook-lab-k-002", Name: "web"}}},
		{CaseID: "K-002", Objects: []casebook.ObjectRef{{Kind: "Pod", Namespace: "casebook-lab-k-002", Name: "web"}}},
		{CaseID: "K-002", Objects: []casebook.ObjectRef{{Kind: "RuntimeClass", Name: "casebook-lab-wasm"}}},
	}
	if got := Mine(r, fs); len(got) != 2 || got[0].Objects[0].Namespace != "casebook-lab-k-002" || got[1].Objects[0].Name != "casebook-lab-wasm" {
		t.Errorf("Mine = %+v", got)
	}
}
