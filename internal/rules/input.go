package rules

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// InputVersion is the version of the input document and of the output
// shape (docs/rules.md, docs/rules-input.schema.json). A change that
// breaks a rule gets a new version.
const InputVersion = "casebook.dev/rules/v1alpha1"

// InputKinds are the kinds the input document can hold, under
// input.objects.<Kind>. Secrets are there as metadata only.
var InputKinds = []casebook.Kind{
	casebook.KindConfigMap, casebook.KindDaemonSet, casebook.KindDeployment, casebook.KindEndpointSlice,
	casebook.KindEvent, casebook.KindIngress, casebook.KindIngressClass, casebook.KindJob,
	casebook.KindNamespace, casebook.KindNetworkPolicy, casebook.KindNode, casebook.KindPersistentVolume,
	casebook.KindPersistentVolumeClaim, casebook.KindPod, casebook.KindReplicaSet, casebook.KindRuntimeClass,
	casebook.KindSecret, casebook.KindService, casebook.KindStatefulSet, casebook.KindStorageClass,
	casebook.KindValidatingWebhookConfiguration,
}

// relationKinds are the kinds each relation is built from.
var relationKinds = map[string][]casebook.Kind{
	"services": {casebook.KindService, casebook.KindEndpointSlice, casebook.KindPod},
	"events":   {casebook.KindEvent},
	"claims":   {casebook.KindPersistentVolumeClaim, casebook.KindPersistentVolume, casebook.KindStorageClass, casebook.KindPod},
	"nodes":    {casebook.KindNode},
}

// Input is the input document of one run, built once and shared by every
// rule of the run.
type Input struct {
	Value ast.Value
	// Objects counts the objects in the document.
	Objects int
	// Errors say which kinds or relations could not be read; the rules
	// still run over the rest.
	Errors []error
}

// BuildInput builds the input document from st with the given kinds under
// objects and the given relations:
//
//	{"apiVersion": InputVersion,
//	 "objects":   {"<Kind>": {"<namespace>/<name>" or "<name>": object}},
//	 "relations": {"services": ..., "events": ..., "claims": ..., "nodes": ...}}
//
// relations.events["<Kind>/<namespace>/<name>"] lists the object's events,
// oldest first, each with its name, namespace, type, reason, message,
// count (the larger of count and series.count), time (when it last
// happened, RFC 3339), source component and involvedObject: a rule that
// quotes events needs no input.objects.Event, whose 50,000 full objects
// would cost seconds to convert.
func BuildInput(st *cluster.State, kinds []casebook.Kind, relations []string) *Input {
	in := &Input{}
	objects := ast.NewObject()
	for _, k := range kinds {
		if !known(k) {
			continue
		}
		objs, err := st.Objects(k, casebook.AllNamespaces)
		if err != nil {
			in.Errors = append(in.Errors, err)
		}
		byKey := ast.NewObject()
		for _, c := range convert(k, objs) {
			if c.err != nil {
				in.Errors = append(in.Errors, c.err)
				continue
			}
			byKey.Insert(ast.StringTerm(c.key), ast.NewTerm(c.v))
			in.Objects++
		}
		objects.Insert(ast.StringTerm(string(k)), ast.NewTerm(byKey))
	}
	rels := ast.NewObject()
	for _, r := range relations {
		v, err := relation(st, r)
		if err != nil {
			in.Errors = append(in.Errors, fmt.Errorf("relation %s: %w", r, err))
		}
		if v != nil {
			rels.Insert(ast.StringTerm(r), ast.NewTerm(v))
		}
	}
	in.Value = ast.NewObject(
		ast.Item(ast.StringTerm("apiVersion"), ast.StringTerm(InputVersion)),
		ast.Item(ast.StringTerm("objects"), ast.NewTerm(objects)),
		ast.Item(ast.StringTerm("relations"), ast.NewTerm(rels)),
	)
	return in
}

type converted struct {
	key string
	v   ast.Value
	err error
}

// convert converts objects on every CPU: reflection over 50,000 events is
// most of the cost of the input.
func convert(kind casebook.Kind, objs []kruntime.Object) []converted {
	out := make([]converted, len(objs))
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(objs) + workers - 1) / workers
	var wg sync.WaitGroup
	for start := 0; start < len(objs); start += chunk {
		end := min(start+chunk, len(objs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				out[i].key, out[i].v, out[i].err = objectValue(kind, objs[i])
			}
		}()
	}
	wg.Wait()
	return out
}

func known(k casebook.Kind) bool {
	for _, x := range InputKinds {
		if x == k {
			return true
		}
	}
	return false
}

// objectValue converts one object as the API serves it. A Secret keeps
// its metadata only, whatever the source gave.
func objectValue(kind casebook.Kind, o kruntime.Object) (string, ast.Value, error) {
	m, err := meta.Accessor(o)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", kind, err)
	}
	key := m.GetName()
	if m.GetNamespace() != "" {
		key = m.GetNamespace() + "/" + key
	}
	var obj map[string]any
	if kind == casebook.KindSecret {
		obj = map[string]any{"metadata": map[string]any{
			"name": m.GetName(), "namespace": m.GetNamespace(), "uid": string(m.GetUID()),
			"labels": stringMap(m.GetLabels()), "annotations": stringMap(m.GetAnnotations()),
		}}
	} else if u, ok := o.(*unstructured.Unstructured); ok {
		obj = u.Object
	} else {
		obj, err = kruntime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return "", nil, fmt.Errorf("read %s %s: %w", kind, key, err)
		}
	}
	v, err := ast.InterfaceToValue(obj)
	if err != nil {
		return "", nil, fmt.Errorf("read %s %s: %w", kind, key, err)
	}
	if o, ok := v.(ast.Object); ok && o.Get(ast.StringTerm("kind")) == nil {
		o.Insert(ast.StringTerm("kind"), ast.StringTerm(string(kind)))
	}
	return key, v, nil
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stringArray(list []string) *ast.Term {
	ts := make([]*ast.Term, len(list))
	for i, s := range list {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}

func keyOf(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// relation builds one relation from the state's indexes.
func relation(st *cluster.State, name string) (ast.Value, error) {
	switch name {
	case "services":
		idx, err := st.ServiceIndex()
		if idx == nil {
			return nil, err
		}
		out := ast.NewObject()
		for _, s := range idx.All() {
			b := idx.Backend(s.Namespace, s.Name)
			pods := make([]string, 0, len(b.Pods))
			for _, p := range b.Pods {
				pods = append(pods, keyOf(p.Namespace, p.Name))
			}
			slices := make([]string, 0, len(b.Slices))
			for _, sl := range b.Slices {
				slices = append(slices, keyOf(sl.Namespace, sl.Name))
			}
			out.Insert(ast.StringTerm(keyOf(s.Namespace, s.Name)), ast.ObjectTerm(
				ast.Item(ast.StringTerm("pods"), stringArray(pods)),
				ast.Item(ast.StringTerm("endpoint_slices"), stringArray(slices)),
				ast.Item(ast.StringTerm("ready_endpoints"), ast.IntNumberTerm(b.Ready)),
			))
		}
		return out, err
	case "events":
		idx, err := st.Events()
		if idx == nil {
			return nil, err
		}
		byObj := map[string][]*corev1.Event{}
		var keys []string
		for _, e := range idx.All() {
			o := e.InvolvedObject
			k := o.Kind + "/" + keyOf(o.Namespace, o.Name)
			if byObj[k] == nil {
				keys = append(keys, k)
			}
			byObj[k] = append(byObj[k], e)
		}
		out := ast.NewObject()
		for _, k := range keys {
			evs := byObj[k]
			sort.SliceStable(evs, func(i, j int) bool { return cluster.EventTime(evs[i]).Before(cluster.EventTime(evs[j])) })
			ts := make([]*ast.Term, len(evs))
			for i, e := range evs {
				ts[i] = eventTerm(e)
			}
			out.Insert(ast.StringTerm(k), ast.ArrayTerm(ts...))
		}
		return out, err
	case "claims":
		sto, err := st.Storage()
		if sto == nil {
			return nil, err
		}
		pods, podErr := st.Pods()
		users := map[string][]string{}
		for _, p := range pods {
			if cluster.Terminal(p) {
				continue
			}
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					k := keyOf(p.Namespace, v.PersistentVolumeClaim.ClaimName)
					users[k] = append(users[k], keyOf(p.Namespace, p.Name))
				}
			}
		}
		out := ast.NewObject()
		for _, c := range sto.Claims {
			k := keyOf(c.Namespace, c.Name)
			volume, class := ast.NullTerm(), ast.NullTerm()
			if v := sto.VolumeOf(c); v != nil {
				volume = ast.StringTerm(v.Name)
			}
			if sc := sto.ClassOf(c); sc != nil {
				class = ast.StringTerm(sc.Name)
			}
			out.Insert(ast.StringTerm(k), ast.ObjectTerm(
				ast.Item(ast.StringTerm("volume"), volume),
				ast.Item(ast.StringTerm("class"), class),
				ast.Item(ast.StringTerm("pods"), stringArray(users[k])),
			))
		}
		if err == nil {
			err = podErr
		}
		return out, err
	case "nodes":
		idx, err := st.NodeIndex()
		if idx == nil {
			return nil, err
		}
		out := ast.NewObject()
		for _, n := range idx.All() {
			out.Insert(ast.StringTerm(n.Name), ast.ObjectTerm(
				ast.Item(ast.StringTerm("k3s_args"), stringArray(idx.Args(n.Name))),
			))
		}
		return out, err
	}
	return nil, fmt.Errorf("no relation %q (want services, events, claims or nodes)", name)
}

// eventTerm is an event as the events relation gives it: the fields a rule
// quotes, built without reflection (50,000 events are most of a large
// cluster's objects).
func eventTerm(e *corev1.Event) *ast.Term {
	count := e.Count
	if e.Series != nil && e.Series.Count > count {
		count = e.Series.Count
	}
	o := e.InvolvedObject
	return ast.ObjectTerm(
		ast.Item(ast.StringTerm("name"), ast.StringTerm(e.Name)),
		ast.Item(ast.StringTerm("namespace"), ast.StringTerm(e.Namespace)),
		ast.Item(ast.StringTerm("type"), ast.StringTerm(e.Type)),
		ast.Item(ast.StringTerm("reason"), ast.StringTerm(e.Reason)),
		ast.Item(ast.StringTerm("message"), ast.StringTerm(e.Message)),
		ast.Item(ast.StringTerm("count"), ast.IntNumberTerm(int(count))),
		ast.Item(ast.StringTerm("time"), ast.StringTerm(cluster.EventTime(e).UTC().Format(time.RFC3339))),
		ast.Item(ast.StringTerm("source"), ast.StringTerm(e.Source.Component)),
		ast.Item(ast.StringTerm("involvedObject"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("kind"), ast.StringTerm(o.Kind)),
			ast.Item(ast.StringTerm("namespace"), ast.StringTerm(o.Namespace)),
			ast.Item(ast.StringTerm("name"), ast.StringTerm(o.Name)),
			ast.Item(ast.StringTerm("uid"), ast.StringTerm(string(o.UID))),
		)),
	)
}
