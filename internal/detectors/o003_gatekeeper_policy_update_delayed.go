package detectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// GatekeeperPolicyUpdateDelayed finds O-003: Gatekeeper policy that is not
// (yet) in force everywhere. A ConstraintTemplate no Gatekeeper pod could
// set up, so its constraint kind does not exist (errors in the template's
// own Rego are left to O-002); constraints some pods
// report errors for; pods still enforcing an older generation of a
// template or constraint because they crash or restart; and an audit pod
// that is down, so the status of every template and constraint (and the
// audit results) stand still. Clusters without Gatekeeper are skipped
// without a word.
type GatekeeperPolicyUpdateDelayed struct{}

var (
	_ engine.Detector   = GatekeeperPolicyUpdateDelayed{}
	_ engine.Stepper    = GatekeeperPolicyUpdateDelayed{}
	_ engine.Translator = GatekeeperPolicyUpdateDelayed{}
)

// CaseID returns "O-003".
func (GatekeeperPolicyUpdateDelayed) CaseID() string { return "O-003" }

// Kinds lists the kinds the detector reads.
func (GatekeeperPolicyUpdateDelayed) Kinds() []casebook.Kind {
	return []casebook.Kind{kindConstraintTemplate, kindConstraints, casebook.KindPod, casebook.KindEvent}
}

// Gatekeeper's kinds: templates, and the constraint kinds they create.
const (
	kindConstraintTemplate casebook.Kind = "ConstraintTemplate.templates.gatekeeper.sh"
	constraintsGroup                     = "constraints.gatekeeper.sh"
	// kindConstraintTemplateRef is how findings name a template.
	kindConstraintTemplateRef = "ConstraintTemplate"
	// kindConstraints stands for every constraint kind: they are named by
	// the templates, so they are listed one by one once those are read.
	kindConstraints casebook.Kind = "*." + constraintsGroup
)

// gkStatus is one entry of a template's or constraint's status.byPod.
type gkStatus struct {
	id                 string
	observedGeneration int64
	enforced           bool
	hasEnforced        bool
	errors             []string
}

func byPodStatus(obj *unstructured.Unstructured) []gkStatus {
	list, _, _ := unstructured.NestedSlice(obj.Object, "status", "byPod")
	var out []gkStatus
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		s := gkStatus{}
		s.id, _, _ = unstructured.NestedString(m, "id")
		s.observedGeneration, _, _ = unstructured.NestedInt64(m, "observedGeneration")
		s.enforced, s.hasEnforced, _ = unstructured.NestedBool(m, "enforced")
		errs, _, _ := unstructured.NestedSlice(m, "errors")
		for _, e := range errs {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			code, _, _ := unstructured.NestedString(em, "code")
			msg, _, _ := unstructured.NestedString(em, "message")
			loc, _, _ := unstructured.NestedString(em, "location")
			text := code + ": " + msg
			if loc != "" {
				text += " (at " + loc + ")"
			}
			s.errors = append(s.errors, text)
		}
		out = append(out, s)
	}
	return out
}

// gkPods are the Gatekeeper pods by name, as byPod ids name them.
type gkPods map[string]*corev1.Pod

// down quotes why a Gatekeeper pod is not Ready, or nothing if it is.
func (g gkPods) down(id string) []casebook.Evidence {
	p := g[id]
	if p == nil || podReady(p) {
		return nil
	}
	var out []casebook.Evidence
	if c := podCondition(p, corev1.PodReady); c != nil {
		out = append(out, quotePodCondition(p, c))
	} else {
		out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "status.phase: %s", p.Status.Phase))
	}
	out = append(out, waitingReasons(p)...)
	return append(out, g.restarts(id)...)
}

// restarting quotes the restarts of a Gatekeeper pod that serves (is
// Ready) but has restarted: it reloads every template and constraint
// after each restart and lags behind while it does. A pod that never
// restarted, or does not serve, quotes nothing.
func (g gkPods) restarting(id string) []casebook.Evidence {
	p := g[id]
	if p == nil || !podReady(p) {
		return nil
	}
	return g.restarts(id)
}

func (g gkPods) restarts(id string) []casebook.Evidence {
	p := g[id]
	var out []casebook.Evidence
	for _, cs := range p.Status.ContainerStatuses {
		if cs.RestartCount == 0 {
			continue
		}
		s := quote(casebook.KindPod, objName(p.Namespace, p.Name), "container %s restartCount %d", cs.Name, cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil && t.Reason != "" {
			s.Text += fmt.Sprintf(", last terminated: %s (exit code %d) at %s", t.Reason, t.ExitCode, t.FinishedAt.UTC().Format("2006-01-02T15:04:05Z"))
		}
		out = append(out, s)
	}
	return out
}

// Detect checks every ConstraintTemplate, every constraint and the pods
// that keep their status.
func (GatekeeperPolicyUpdateDelayed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
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
	if len(templates) == 0 {
		return nil, nil
	}
	pods, err := r.gatekeeperPods()
	if err != nil {
		return nil, err
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	now := clusterNow(events, pods)

	var out []casebook.Finding
	var tpls []*unstructured.Unstructured
	for _, o := range templates {
		if u, ok := o.(*unstructured.Unstructured); ok {
			tpls = append(tpls, u)
		}
	}
	sort.Slice(tpls, func(i, j int) bool { return tpls[i].GetName() < tpls[j].GetName() })

	var statusDown []string
	statusPods := pods.statusPods()
	for _, id := range statusPods {
		if !podReady(pods[id]) {
			statusDown = append(statusDown, id)
		}
	}
	var stale []*unstructured.Unstructured // templates whose status stands still
	lastAudit, lastAudited := "", ""       // the latest audit of any constraint

	for _, t := range tpls {
		tRef := casebook.ObjectRef{Kind: kindConstraintTemplateRef, Name: t.GetName()}
		created, _, _ := unstructured.NestedBool(t.Object, "status", "created")
		status := byPodStatus(t)
		// Errors in the template's own Rego are O-002's; the rest are ours.
		regoStatus, otherStatus := splitRegoErrors(status)
		_, regoFailing := quoteByPodErrors(tRef, regoStatus, false)
		errs, failing := quoteByPodErrors(tRef, otherStatus, false)
		switch {
		case regoFailing > 0 && failing == 0:
			// O-002 reports it.
		case !created && failing > 0:
			out = append(out, casebook.Finding{CaseID: "O-003", Cause: "template-not-created", Objects: []casebook.ObjectRef{tRef},
				Message:  "no Gatekeeper pod could set up the ConstraintTemplate, so the CRD of its constraint kind is not created: constraints of that kind fail with \"no matches for kind\" and nothing is enforced (errors in the template's own Rego are O-002's)",
				Evidence: append([]casebook.Evidence{{Object: tRef, Field: "status.created", Text: "false"}}, errs...)})
		case failing > 0:
			out = append(out, casebook.Finding{CaseID: "O-003", Cause: "template-errors-on-some-pods", Objects: []casebook.ObjectRef{tRef},
				Message:  "some Gatekeeper pods report errors for the ConstraintTemplate: requests they answer are judged without it",
				Evidence: append([]casebook.Evidence{{Object: tRef, Field: "status.created", Text: fmt.Sprintf("true, %d of %d pods report errors", failing, len(status))}}, errs...)})
		case !created && len(statusDown) > 0:
			stale = append(stale, t)
		}
		out = append(out, behind(tRef, t.GetGeneration(), status, pods, events, now)...)

		kind, _, _ := unstructured.NestedString(t.Object, "spec", "crd", "spec", "names", "kind")
		if kind == "" {
			continue
		}
		constraints, err := st.Objects(casebook.Kind(kind+"."+constraintsGroup), "")
		if errors.Is(err, casebook.ErrNotServed) {
			continue // the template's CRD does not exist (yet): no constraints
		}
		if ok, err := r.optional(err); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		constraints = append([]runtime.Object(nil), constraints...) // the state's list is shared
		sort.Slice(constraints, func(i, j int) bool {
			return constraints[i].(*unstructured.Unstructured).GetName() < constraints[j].(*unstructured.Unstructured).GetName()
		})
		for _, o := range constraints {
			c, ok := o.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			cRef := casebook.ObjectRef{Kind: kind, Name: c.GetName()}
			name := strings.ToLower(kind) + " " + c.GetName()
			cs := byPodStatus(c)
			if ts, _, _ := unstructured.NestedString(c.Object, "status", "auditTimestamp"); ts > lastAudit {
				lastAudit, lastAudited = ts, name
			}
			if errs, _ := quoteByPodErrors(cRef, cs, true); len(errs) > 0 {
				out = append(out, casebook.Finding{CaseID: "O-003", Cause: "constraint-not-enforced", Objects: []casebook.ObjectRef{cRef},
					Message:  "Gatekeeper pods report errors for the constraint and do not enforce it",
					Evidence: errs})
			}
			out = append(out, behind(cRef, c.GetGeneration(), cs, pods, events, now)...)
		}
	}

	if len(statusDown) > 0 {
		f := casebook.Finding{CaseID: "O-003", Cause: "status-not-updated",
			Message: "the Gatekeeper pod that writes the status of templates and constraints (--operation=status, the audit pod) is not running: audit results and every status.byPod stand still, so policy changes cannot be seen to take effect"}
		for _, id := range statusDown {
			f.Objects = append(f.Objects, ref(casebook.KindPod, pods[id]))
			f.Evidence = append(f.Evidence, pods.down(id)...)
		}
		for _, t := range stale {
			f.Objects = append(f.Objects, casebook.ObjectRef{Kind: kindConstraintTemplateRef, Name: t.GetName()})
			f.Evidence = append(f.Evidence, casebook.Evidence{Object: casebook.ObjectRef{Kind: kindConstraintTemplateRef, Name: t.GetName()}, Field: fmt.Sprintf("(generation %d) status.created", t.GetGeneration()), Text: fmt.Sprintf("not true, status.byPod: %d entries", len(byPodStatus(t)))})
		}
		if lastAudit != "" {
			f.Evidence = append(f.Evidence, note("Constraint", "latest status.auditTimestamp of any constraint: %s (%s)", lastAudit, lastAudited))
		}
		out = append(out, f)
	}
	return r.done(out)
}

// quoteByPodErrors quotes the errors of a status.byPod, one line per
// distinct error with the pods that report it, and counts those pods.
func quoteByPodErrors(obj casebook.ObjectRef, status []gkStatus, enforced bool) ([]casebook.Evidence, int) {
	var order []string
	pods := map[string][]string{}
	failing := 0
	for _, s := range status {
		if len(s.errors) == 0 {
			continue
		}
		failing++
		e := strings.Join(s.errors, "; ")
		if enforced {
			e = fmt.Sprintf("enforced %t, errors: %s", s.enforced, e)
		} else {
			e = "errors: " + e
		}
		if pods[e] == nil {
			order = append(order, e)
		}
		pods[e] = append(pods[e], s.id)
	}
	var out []casebook.Evidence
	for _, e := range order {
		out = append(out, casebook.Evidence{Object: obj, Field: "status.byPod[" + strings.Join(pods[e], ", ") + "]", Text: e})
	}
	return out, failing
}

// behind finds the serving pods that still hold an older generation of a
// template or constraint (or none at all) and have been restarting, so
// they keep falling behind: a request they answer is judged by the old
// policy. A pod that never restarted and is a moment behind is catching up
// and left out; a pod that is not Ready answers nothing (O-001).
func behind(obj casebook.ObjectRef, generation int64, status []gkStatus, pods gkPods, events *cluster.EventIndex, now time.Time) []casebook.Finding {
	var ev []casebook.Evidence
	var objs []casebook.ObjectRef
	var lagging []casebook.Finding // behind for a reason not known
	seen := map[string]bool{}
	for _, s := range status {
		seen[s.id] = true
		if s.observedGeneration >= generation {
			continue
		}
		q := pods.restarting(s.id)
		if len(q) == 0 {
			if f, ok := lagsBeyondGrace(obj, generation, s, pods, events, now); ok {
				lagging = append(lagging, f)
			}
			continue
		}
		ev = append(ev, casebook.Evidence{Object: obj, Field: fmt.Sprintf("metadata.generation %d, status.byPod[%s].observedGeneration", generation, s.id), Text: fmt.Sprint(s.observedGeneration)})
		ev = append(ev, q...)
		objs = append(objs, ref(casebook.KindPod, pods[s.id]))
	}
	// A webhook pod with no entry at all has not loaded the object.
	if len(status) > 0 {
		for _, id := range pods.webhookPods() {
			if seen[id] {
				continue
			}
			q := pods.restarting(id)
			if len(q) == 0 {
				continue
			}
			ev = append(ev, casebook.Evidence{Object: obj, Field: fmt.Sprintf("metadata.generation %d, status.byPod", generation), Text: "no entry for pod " + id})
			ev = append(ev, q...)
			objs = append(objs, ref(casebook.KindPod, pods[id]))
		}
	}
	if len(ev) == 0 {
		return lagging
	}
	return append([]casebook.Finding{{CaseID: "O-003", Cause: "pods-behind", Objects: append([]casebook.ObjectRef{obj}, objs...),
		Message:  "Gatekeeper webhook pods that keep restarting still hold an older version of the policy: requests they answer are judged by the old rules",
		Evidence: ev}}, lagging...)
}

// lagGrace is how long a Gatekeeper pod may hold an older generation of a
// template or constraint before it is O-003's symptom: pods pick a change
// up within seconds, and the audit pod (default --audit-interval 60s)
// writes their status at least once a minute, so five minutes is five
// audit intervals.
const lagGrace = 5 * time.Minute

// lagsBeyondGrace reports a pod that holds an older generation of obj and
// has been Running but not Ready for longer than lagGrace, measured against the latest time the cluster shows.
// None of the known causes explains it (it did not restart, the status pod
// may be running), so the case is reported as unrecognised with the lag
// quoted. A pod a moment behind, or whose state has no time, says nothing.
func lagsBeyondGrace(obj casebook.ObjectRef, generation int64, s gkStatus, pods gkPods, events *cluster.EventIndex, now time.Time) (casebook.Finding, bool) {
	p := pods[s.id]
	if p == nil || now.IsZero() || p.Status.Phase != corev1.PodRunning {
		return casebook.Finding{}, false
	}
	c := podCondition(p, corev1.PodReady)
	if c == nil || c.Status == corev1.ConditionTrue || c.LastTransitionTime.IsZero() {
		// A Ready pod's state says nothing of when the change came: it
		// may be a moment behind and catching up.
		return casebook.Finding{}, false
	}
	lag := now.Sub(c.LastTransitionTime.Time)
	if lag <= lagGrace {
		return casebook.Finding{}, false
	}
	symptom := casebook.Evidence{Object: obj, Field: fmt.Sprintf("status.byPod[%s].observedGeneration", s.id),
		Text: fmt.Sprintf("%d while metadata.generation is %d: the pod is Running, Ready=%s since %s, longer than %s", s.observedGeneration, generation, c.Status, c.LastTransitionTime.UTC().Format(time.RFC3339), lagGrace)}
	more := []casebook.Evidence{quotePodCondition(p, c)}
	more = append(more, waitingReasons(p)...)
	if events != nil {
		for _, e := range lastByMessage(events.Of("Pod", p)) {
			if e.Type == corev1.EventTypeWarning {
				more = append(more, quoteEvent(e))
			}
		}
	}
	return unrecognised("O-003", []casebook.ObjectRef{obj, ref(casebook.KindPod, p)}, symptom, more...), true
}

// clusterNow is the latest time the cluster state shows: the newest event
// or Gatekeeper pod condition. A snapshot is judged at the
// time it was taken, not at the time it is read.
func clusterNow(events *cluster.EventIndex, pods gkPods) time.Time {
	now := latestEvent(events)
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.LastTransitionTime.After(now) {
				now = c.LastTransitionTime.Time
			}
		}
	}
	return now
}

// gatekeeperPods returns Gatekeeper's pods (label gatekeeper.sh/system=yes),
// from the namespaces in scope and gatekeeper-system.
func (r *reader) gatekeeperPods() (gkPods, error) {
	out := gkPods{}
	for _, ns := range []string{casebook.AllNamespaces, "gatekeeper-system"} {
		pods, err := cluster.List[corev1.Pod](r.st, casebook.KindPod, ns)
		if ok, err := r.optional(err); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		for _, p := range pods {
			if p.Labels["gatekeeper.sh/system"] == "yes" && !podTerminal(p) {
				out[p.Name] = p
			}
		}
	}
	return out, nil
}

// operations returns the --operation flags of a Gatekeeper pod.
func (g gkPods) operations(p *corev1.Pod) []string {
	var out []string
	for _, c := range p.Spec.Containers {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--operation="); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func (g gkPods) withOperation(op string) []string {
	var out []string
	for name, p := range g {
		for _, o := range g.operations(p) {
			if o == op {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// statusPods are the pods that aggregate status (the audit pod by default).
func (g gkPods) statusPods() []string { return g.withOperation("status") }

// webhookPods are the pods that answer admission requests.
func (g gkPods) webhookPods() []string { return g.withOperation("webhook") }

// o003Steps are the next steps of GatekeeperPolicyUpdateDelayed findings, by cause.
var o003Steps = stepsByCause{
	"template-not-created": {
		{Step: 2, Kind: kindConstraintTemplateRef, Cmd: `kubectl describe constrainttemplate %name%`},
	},
	"template-errors-on-some-pods": {
		{Step: 2, Kind: kindConstraintTemplateRef, Cmd: `kubectl describe constrainttemplate %name%`},
	},
	"status-not-updated": {
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl -n %ns% describe pod %name%`},
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl -n %ns% logs %name% --tail=100`},
	},
	"pods-behind": {
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl -n %ns% describe pod %name%`},
	},
	"": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl -n %ns% describe pod %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (GatekeeperPolicyUpdateDelayed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return o003Steps.of(f.Cause)
}

// o003ZH are the messages of GatekeeperPolicyUpdateDelayed findings in Chinese, by cause.
var o003ZH = zhByCause{
	"template-not-created":         `没有一个 Gatekeeper Pod 能建立该 ConstraintTemplate，其约束类型的 CRD 没有创建：该类型的约束报 "no matches for kind"，什么也不执行`,
	"template-errors-on-some-pods": `部分 Gatekeeper Pod 报告该 ConstraintTemplate 有错误：由它们应答的请求不经此模板裁决`,
	"constraint-not-enforced":      `Gatekeeper Pod 报告该约束有错误，并且没有执行它`,
	"status-not-updated":           `负责写模板和约束状态的 Gatekeeper Pod（--operation=status，即 audit Pod）没有运行：审计结果和所有 status.byPod 都停滞，看不出策略变更是否生效`,
	"pods-behind":                  `不断重启的 Gatekeeper webhook Pod 仍持有旧版本策略：由它们应答的请求按旧规则裁决`,
}

// MessageZH returns the finding's message in Chinese.
func (GatekeeperPolicyUpdateDelayed) MessageZH(f *casebook.Finding) string { return o003ZH.message(f) }
