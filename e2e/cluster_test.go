// Package e2e tests casebook's live path against a real kube-apiserver
// backed by etcd, as scripts/e2e-env.sh starts it on 127.0.0.1: fixtures
// are loaded into it, and `casebook diagnose` must find in the live
// cluster, through a read-only ServiceAccount, exactly what it finds in the
// snapshot.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Planted is a credential planted in the cluster that must never come out
// of it: not in a response casebook receives, not in a bundle.
const Planted = "pl4nted-s3cret-9f1c2e"

// cluster is the e2e API server, seen by its admin.
type cluster struct {
	admin   *rest.Config
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	mapper  meta.RESTMapper
	created []ref
}

type ref struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

// connect returns the e2e cluster, or skips the test when none was started;
// with CASEBOOK_REQUIRE_E2E=1 a missing cluster fails instead.
func connect(t testing.TB) *cluster {
	t.Helper()
	kc := os.Getenv("CASEBOOK_E2E_KUBECONFIG")
	if kc == "" {
		if os.Getenv("CASEBOOK_REQUIRE_E2E") == "1" {
			t.Fatal("CASEBOOK_REQUIRE_E2E=1 but CASEBOOK_E2E_KUBECONFIG is unset: start the API server with scripts/e2e-env.sh up")
		}
		t.Skip("no e2e API server: run `eval \"$(scripts/e2e-env.sh up)\"` first (CASEBOOK_E2E_KUBECONFIG unset)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatalf("load %s: %v", kc, err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c := &cluster{admin: cfg}
	if c.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.ServerVersion(); err != nil {
		t.Fatalf("e2e API server at %s does not answer: %v", cfg.Host, err)
	}
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return c
}

// readObjects reads every object of a fixture directory, recursively, in
// YAML or JSON, lists expanded (typed lists as cluster-info dump writes
// them leave each item's kind out).
func readObjects(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				break
			}
			if m == nil {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			if !u.IsList() {
				out = append(out, u)
				continue
			}
			items, _, _ := unstructured.NestedSlice(m, "items")
			for _, it := range items {
				im, ok := it.(map[string]any)
				if !ok {
					continue
				}
				if _, ok := im["kind"]; !ok {
					im["kind"] = strings.TrimSuffix(u.GetKind(), "List")
					im["apiVersion"] = u.GetAPIVersion()
				}
				out = append(out, &unstructured.Unstructured{Object: im})
			}
		}
	}
	return out
}

// rank orders creation: namespaces, cluster-scoped kinds, then namespaced
// ones, events (they point at the others), and admission webhooks last: the
// API server calls them, and a fixture's webhook has no server behind it.
// clean deletes in reverse, so they go first.
func rank(u *unstructured.Unstructured) int {
	switch u.GetKind() {
	case "Namespace":
		return 0
	case "Node", "StorageClass", "IngressClass", "PersistentVolume", "RuntimeClass":
		return 1
	case "Event":
		return 3
	case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
		return 4
	}
	return 2
}

// load creates a fixture's objects as they are in the snapshot: the spec
// by create, the status through the status subresource (nothing else runs
// to write it), with the server's own fields (uid, cluster IPs) left to the
// server and events pointed at the new UIDs. Secrets get planted data.
func (c *cluster) load(t testing.TB, dir string) {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { c.clean(t) })
	objs := readObjects(t, dir)
	c.ensureCRDs(t, objs)
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
	uids := map[string]types.UID{}
	accounts := map[[2]string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Pod" {
			sa, _, _ := unstructured.NestedString(o.Object, "spec", "serviceAccountName")
			if sa == "" {
				sa = "default"
			}
			accounts[[2]string{o.GetNamespace(), sa}] = true
		}
	}
	madeAccounts := false
	for _, o := range objs {
		if rank(o) >= 2 && !madeAccounts {
			madeAccounts = true
			for k := range accounts {
				c.ensureNamespace(t, k[0])
				_, err := c.kube.CoreV1().ServiceAccounts(k[0]).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: k[1]}}, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatalf("create serviceaccount %s/%s: %v", k[0], k[1], err)
				}
			}
		}
		if o.GetNamespace() != "" {
			c.ensureNamespace(t, o.GetNamespace())
		}
		created := c.create(t, o, uids)
		if created != nil {
			uids[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = created.GetUID()
		}
	}
}

func (c *cluster) ensureNamespace(t testing.TB, ns string) {
	_, err := c.kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
}

func (c *cluster) create(t testing.TB, o *unstructured.Unstructured, uids map[string]types.UID) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	gvk := o.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s %s: %v", gvk, o.GetName(), err)
	}
	obj := o.DeepCopy()
	status, hasStatus := obj.Object["status"]
	delete(obj.Object, "status")
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "ownerReferences", "selfLink"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	switch gvk.Kind {
	case "Service":
		if ip, _, _ := unstructured.NestedString(obj.Object, "spec", "clusterIP"); ip != "None" {
			unstructured.RemoveNestedField(obj.Object, "spec", "clusterIP")
			unstructured.RemoveNestedField(obj.Object, "spec", "clusterIPs")
		}
		ports, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ports")
		for _, p := range ports {
			delete(p.(map[string]any), "nodePort")
		}
		if ports != nil {
			_ = unstructured.SetNestedSlice(obj.Object, ports, "spec", "ports")
		}
	case "Event":
		io, _, _ := unstructured.NestedMap(obj.Object, "involvedObject")
		// A cluster-scoped object (a Node) has no namespace in the reference.
		ns, _ := io["namespace"].(string)
		key := fmt.Sprint(io["kind"], "/", ns, "/", io["name"])
		if uid, ok := uids[key]; ok {
			_ = unstructured.SetNestedField(obj.Object, string(uid), "involvedObject", "uid")
		}
	case "Secret":
		obj.Object["data"] = map[string]any{"password": base64.StdEncoding.EncodeToString([]byte(Planted))}
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	generation := customGeneration(obj, fixtureGeneration(o))
	created, err := ri.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		switch {
		case obj.GetNamespace() == "default" && obj.GetName() == "kubernetes":
			// The API server's own Service and EndpointSlice.
			return nil
		case gvk.Kind == "Namespace":
			// Namespaces stay: without a namespace controller a deleted
			// one would never finish terminating.
			return nil
		}
		// Left over from an interrupted run: replace it.
		c.remove(t, ri, obj.GetName())
		created, err = ri.Create(ctx, obj, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("create %s %s/%s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	if gvk.Kind != "Namespace" {
		c.created = append(c.created, ref{m.Resource, created.GetNamespace(), created.GetName()})
	}
	created = generation(t, ri, created)
	if gvk.Kind == "Node" {
		// The TaintNodesByCondition admission plugin gives a new node the
		// not-ready taint; the fixture's taints are the node's real ones.
		taints, _, _ := unstructured.NestedSlice(o.Object, "spec", "taints")
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"taints": taints}})
		if created, err = ri.Patch(ctx, created.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("set taints of node %s: %v", created.GetName(), err)
		}
	}
	if hasStatus && status != nil && gvk.Kind != "Namespace" {
		created.Object["status"] = status
		if _, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update status of %s %s/%s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return created
}

// clean deletes what load created, finalizers first, without grace:
// nothing else runs to finish a graceful deletion.
func (c *cluster) clean(t testing.TB) {
	t.Helper()
	for i := len(c.created) - 1; i >= 0; i-- {
		r := c.created[i]
		var ri dynamic.ResourceInterface = c.dyn.Resource(r.gvr)
		if r.namespace != "" {
			ri = c.dyn.Resource(r.gvr).Namespace(r.namespace)
		}
		c.remove(t, ri, r.name)
	}
	c.created = nil
}

// remove deletes one object at once: finalizers cleared, no grace period.
func (c *cluster) remove(t testing.TB, ri dynamic.ResourceInterface, name string) {
	t.Helper()
	ctx := context.Background()
	zero := int64(0)
	_, err := ri.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	// A fixture's admission webhook (deleted first) can still be called for
	// a moment, until the API server's informer sees it gone.
	for i := 0; i < 50 && err != nil && strings.Contains(err.Error(), "failed calling webhook"); i++ {
		time.Sleep(100 * time.Millisecond)
		_, err = ri.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("clear finalizers of %s: %v", name, err)
	}
	err = ri.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %s: %v", name, err)
	}
}

// readerConfig returns a client config for a ServiceAccount bound to a
// ClusterRole with the given rules: casebook's view of the cluster.
func (c *cluster) readerConfig(t testing.TB, name string, rules []rbacv1.PolicyRule) *rest.Config {
	t.Helper()
	ctx := context.Background()
	const ns = "casebook-e2e"
	c.ensureNamespace(t, ns)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if _, err := c.kube.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "casebook-e2e-" + name}, Rules: rules}
	if _, err := c.kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		if _, err := c.kube.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "casebook-e2e-" + name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}}
	if _, err := c.kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	exp := int64(3600)
	tok, err := c.kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", name, err)
	}
	cfg := rest.AnonymousClientConfig(c.admin)
	cfg.BearerToken = tok.Status.Token
	// RBAC changes take a moment to reach the authorizer's cache.
	kc := kubernetes.NewForConfigOrDie(cfg)
	for i := 0; i < 50; i++ {
		if _, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cfg
}

// readOnlyRules is what casebook needs: get, list and watch on everything,
// and get on the API server's /metrics.
var readOnlyRules = []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
	{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}

// writeKubeconfig writes a kubeconfig for cfg, for the CLI.
func writeKubeconfig(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["reader"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "reader"}
	kc.CurrentContext = "e2e"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
