package detectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/inspect"
)

// OPAPolicyEvaluationFailed finds O-002: ConstraintTemplates whose own Rego
// Gatekeeper cannot ingest. It quotes the Rego errors Gatekeeper's pods
// report in status.byPod[].errors (ingest, parse, type and compile errors,
// a missing violation rule), and it runs the checks of `casebook check
// rego` (the OPA library, as Gatekeeper parses and compiles a template)
// over each template's spec, so a template that will fail is found before
// any pod has reported on it. A template every pod has ingested at its
// current generation without errors is not contradicted by the offline
// parse and compile checks (the cluster's Gatekeeper may accept syntax
// the checks assume it rejects); only the checks for policies that
// silently never fire still apply to it. Clusters without Gatekeeper are
// skipped without a word.
type OPAPolicyEvaluationFailed struct{}

var (
	_ engine.Detector   = OPAPolicyEvaluationFailed{}
	_ engine.Stepper    = OPAPolicyEvaluationFailed{}
	_ engine.Translator = OPAPolicyEvaluationFailed{}
)

// CaseID returns "O-002".
func (OPAPolicyEvaluationFailed) CaseID() string { return "O-002" }

// Kinds lists the kinds the detector reads.
func (OPAPolicyEvaluationFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{kindConstraintTemplate}
}

// regoErrorMarkers are texts of the errors Gatekeeper reports when a
// template's own Rego (or the template around it) cannot be ingested.
var regoErrorMarkers = []string{
	"Could not ingest Rego", "Could not extract Rego", "rego_", "invalid rego", "invalid module",
	"missing required rules", "bad import", "disallowed ref", "unable to compile modules", "unable to parse module",
}

// isRegoError reports whether a quoted byPod error ("code: message") is
// the template's own: an ingest_error, or an error from parsing or
// compiling its Rego.
func isRegoError(e string) bool {
	if strings.HasPrefix(e, "ingest_error:") {
		return true
	}
	for _, m := range regoErrorMarkers {
		if strings.Contains(e, m) {
			return true
		}
	}
	return false
}

// splitRegoErrors splits a status.byPod into the Rego errors (O-002) and
// the rest (O-003), keeping the pods' other fields in both.
func splitRegoErrors(status []gkStatus) (rego, other []gkStatus) {
	for _, s := range status {
		r, o := s, s
		r.errors, o.errors = nil, nil
		for _, e := range s.errors {
			if isRegoError(e) {
				r.errors = append(r.errors, e)
			} else {
				o.errors = append(o.errors, e)
			}
		}
		rego, other = append(rego, r), append(other, o)
	}
	return rego, other
}

// silentCauses are the check-rego causes of a policy that is ingested but
// never fires; they hold even when Gatekeeper has accepted the template.
var silentCauses = map[string]bool{"wrong-input-path": true}

// Detect checks every ConstraintTemplate's status and spec.
func (OPAPolicyEvaluationFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	templates, err := st.Objects(kindConstraintTemplate, "")
	if errors.Is(err, casebook.ErrNotServed) {
		return nil, nil // no Gatekeeper here
	}
	ok, err := r.optional(err)
	if err != nil {
		return nil, err
	}
	if !ok {
		return r.done(nil)
	}
	var tpls []*unstructured.Unstructured
	for _, o := range templates {
		if u, ok := o.(*unstructured.Unstructured); ok {
			tpls = append(tpls, u)
		}
	}
	sort.Slice(tpls, func(i, j int) bool { return tpls[i].GetName() < tpls[j].GetName() })

	var out []casebook.Finding
	for _, t := range tpls {
		name := "constrainttemplate " + t.GetName()
		tRef := casebook.ObjectRef{Kind: kindConstraintTemplateRef, Name: t.GetName()}
		created, _, _ := unstructured.NestedBool(t.Object, "status", "created")
		status := byPodStatus(t)
		regoStatus, _ := splitRegoErrors(status)
		quoted, failing := quoteByPodErrors(tRef, regoStatus, false)
		var statusEv []casebook.Evidence
		if failing > 0 {
			statusEv = append([]casebook.Evidence{{Object: tRef, Field: "status.created", Text: fmt.Sprintf("%t, %d of %d pods report Rego errors", created, failing, len(status))}}, quoted...)
		}

		found, _, err := inspect.CheckTemplateObject(name, t.Object)
		if err != nil {
			r.skipped = append(r.skipped, err)
		}
		accepted := failing == 0 && ingested(t, status)
		var fs []casebook.Finding
		for _, f := range found {
			if f.CaseID != "O-002" || (accepted && !silentCauses[f.Cause]) {
				continue
			}
			msg := fmt.Sprintf("ConstraintTemplate %s %s", t.GetName(), f.Message)
			if f.NextStep != "" {
				msg += "; fix: " + f.NextStep
			}
			fs = append(fs, casebook.Finding{CaseID: "O-002", Cause: f.Cause, Objects: []casebook.ObjectRef{tRef},
				Message: msg, Evidence: append([]casebook.Evidence{}, f.Evidence...)})
		}
		switch {
		case len(fs) > 0 && failing > 0:
			fs[0].Evidence = append(statusEv, fs[0].Evidence...)
		case len(fs) > 0 && len(status) > 0 && !accepted:
			fs[0].Evidence = append(fs[0].Evidence, pending(tRef, t, status)...)
		case failing > 0:
			fs = append(fs, casebook.Finding{CaseID: "O-002", Cause: "ingest-error", Objects: []casebook.ObjectRef{tRef},
				Message:  "Gatekeeper pods cannot ingest the ConstraintTemplate's Rego: its constraint kind is not created (or those pods judge requests without it); the errors are quoted as the pods report them",
				Evidence: statusEv})
		}
		out = append(out, fs...)
	}
	return r.done(out)
}

// ingested reports whether every pod that reported on the template has
// ingested its current generation and the template's CRD is created.
func ingested(t *unstructured.Unstructured, status []gkStatus) bool {
	created, _, _ := unstructured.NestedBool(t.Object, "status", "created")
	if !created || len(status) == 0 {
		return false
	}
	for _, s := range status {
		if s.observedGeneration < t.GetGeneration() {
			return false
		}
	}
	return true
}

// pending quotes the pods that have not reported on the template's current
// generation yet: the spec checks found its errors first.
func pending(obj casebook.ObjectRef, t *unstructured.Unstructured, status []gkStatus) []casebook.Evidence {
	var ids []string
	var gen int64
	for _, s := range status {
		if s.observedGeneration < t.GetGeneration() {
			ids = append(ids, s.id)
			gen = s.observedGeneration
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return []casebook.Evidence{{Object: obj, Field: fmt.Sprintf("metadata.generation %d, status.byPod[%s].observedGeneration", t.GetGeneration(), strings.Join(ids, ", ")),
		Text: fmt.Sprintf("%d: Gatekeeper has not reported on this version yet", gen)}}
}

// o002Steps are the next steps of OPAPolicyEvaluationFailed findings, by cause.
var o002Steps = stepsByCause{
	"": {
		{Step: 1, Kind: kindConstraintTemplateRef, Cmd: `kubectl describe constrainttemplate %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (OPAPolicyEvaluationFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return o002Steps.of(f.Cause)
}

// o002ZH are the messages of OPAPolicyEvaluationFailed findings in Chinese, by cause.
var o002ZH = zhByCause{
	"ingest-error": `Gatekeeper Pod 无法载入 ConstraintTemplate 的 Rego：其约束类型没有创建（或这些 Pod 不带它就裁决请求）；错误按 Pod 报告原样引用`,
	"":             `ConstraintTemplate 的 Rego 有错误，策略不会按预期执行（详见英文消息中的具体检查）`,
}

// MessageZH returns the finding's message in Chinese.
func (OPAPolicyEvaluationFailed) MessageZH(f *casebook.Finding) string { return o002ZH.of(f.Cause) }
