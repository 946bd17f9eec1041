package cli

import (
	"context"
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// Gatekeeper's custom resources, which O-003 reads: the ConstraintTemplates,
// and the constraint kinds each of them creates (K8sRequiredLabels...).
const (
	constraintTemplateKind casebook.Kind = "ConstraintTemplate.templates.gatekeeper.sh"
	constraintsGroup                     = "constraints.gatekeeper.sh"
)

// collectCustom writes the custom resources detectors read, when the
// cluster serves them. A cluster without Gatekeeper has nothing to say
// here; a kind that may not be read goes to warn.
func collectCustom(ctx context.Context, src casebook.Source, w *snapshot.Writer, warn func(error)) (int, error) {
	templates, err := src.List(ctx, constraintTemplateKind, casebook.AllNamespaces)
	switch {
	case errors.Is(err, casebook.ErrNotServed):
		return 0, nil
	case errors.Is(err, casebook.ErrForbidden):
		warn(err)
		return 0, nil
	case err != nil:
		return 0, err
	}
	if err := addCustom(w, constraintTemplateKind, "constrainttemplates.templates.gatekeeper.sh", templates); err != nil {
		return 0, err
	}
	n := len(templates)
	seen := map[string]bool{}
	for _, o := range templates {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "crd", "spec", "names", "kind")
		if kind == "" || seen[kind] {
			continue
		}
		seen[kind] = true
		constraints, err := src.List(ctx, casebook.Kind(kind+"."+constraintsGroup), casebook.AllNamespaces)
		switch {
		case errors.Is(err, casebook.ErrNotServed):
			continue // the template's CRD does not exist (yet)
		case errors.Is(err, casebook.ErrForbidden):
			warn(err)
			continue
		case err != nil:
			return n, err
		}
		// Gatekeeper names a constraint kind's resource after the kind in lower case.
		if err := addCustom(w, casebook.Kind(kind+"."+constraintsGroup), strings.ToLower(kind)+"."+constraintsGroup, constraints); err != nil {
			return n, err
		}
		n += len(constraints)
	}
	return n, nil
}

func addCustom(w *snapshot.Writer, kind casebook.Kind, resource string, objs []runtime.Object) error {
	if len(objs) == 0 {
		return nil
	}
	gvk := objs[0].GetObjectKind().GroupVersionKind()
	return w.Add(&kube.Info{Kind: kind, GVK: gvk, Resource: resource}, objs)
}
