package detectors

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// GatekeeperWebhookTimeout finds O-001: Gatekeeper's validating webhooks
// that the API server cannot get an answer from. Their Service has no
// ready pod behind it, so a webhook that fails closed rejects the writes
// it matches and one that fails open lets them through unchecked; or
// workloads cannot create their pods because calls to the webhook time
// out, are refused or fail TLS, as their FailedCreate events quote.
type GatekeeperWebhookTimeout struct{}

var (
	_ engine.Detector   = GatekeeperWebhookTimeout{}
	_ engine.Stepper    = GatekeeperWebhookTimeout{}
	_ engine.Translator = GatekeeperWebhookTimeout{}
	_ engine.Explainer  = GatekeeperWebhookTimeout{}
)

// CaseID returns "O-001".
func (GatekeeperWebhookTimeout) CaseID() string { return "O-001" }

// Kinds lists the kinds the detector reads.
func (GatekeeperWebhookTimeout) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindValidatingWebhookConfiguration, casebook.KindService, casebook.KindEndpointSlice, casebook.KindPod, casebook.KindEvent, casebook.KindReplicaSet, casebook.KindStatefulSet, casebook.KindDaemonSet}
}

// gatekeeperWebhookSuffix ends the names of Gatekeeper's webhooks
// (validation.gatekeeper.sh, check-ignore-label.gatekeeper.sh).
const gatekeeperWebhookSuffix = ".gatekeeper.sh"

// webhookCallFailed is how the API server words a webhook it could not
// call: `failed calling webhook "validation.gatekeeper.sh": failed to call
// webhook: Post "https://…/v1/admit?timeout=3s": context deadline exceeded`.
var webhookCallFailed = regexp.MustCompile(`failed calling webhook "([^"]+` + regexp.QuoteMeta(gatekeeperWebhookSuffix) + `)"`)

// gkWebhook is one Gatekeeper webhook and the Service it calls.
type gkWebhook struct {
	config  *admissionregistrationv1.ValidatingWebhookConfiguration
	name    string
	policy  admissionregistrationv1.FailurePolicyType
	timeout int32
	service *admissionregistrationv1.ServiceReference
}

func (w gkWebhook) quote() casebook.Evidence {
	svc := "a URL"
	if w.service != nil {
		port := int32(443)
		if w.service.Port != nil {
			port = *w.service.Port
		}
		path := ""
		if w.service.Path != nil {
			path = *w.service.Path
		}
		svc = fmt.Sprintf("service %s:%d%s", objName(w.service.Namespace, w.service.Name), port, path)
	}
	return quote(casebook.KindValidatingWebhookConfiguration, w.config.Name, "webhook %s: failurePolicy %s, timeoutSeconds %d, %s", w.name, w.policy, w.timeout, svc)
}

// Detect checks every Gatekeeper webhook and the events of failed calls.
func (GatekeeperWebhookTimeout) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	configs, err := cluster.List[admissionregistrationv1.ValidatingWebhookConfiguration](st, casebook.KindValidatingWebhookConfiguration, "")
	if err != nil {
		return nil, err
	}
	var hooks []gkWebhook
	for _, c := range configs {
		for _, wh := range c.Webhooks {
			if !strings.HasSuffix(wh.Name, gatekeeperWebhookSuffix) {
				continue
			}
			h := gkWebhook{config: c, name: wh.Name, policy: admissionregistrationv1.Fail, timeout: 10, service: wh.ClientConfig.Service}
			if wh.FailurePolicy != nil {
				h.policy = *wh.FailurePolicy
			}
			if wh.TimeoutSeconds != nil {
				h.timeout = *wh.TimeoutSeconds
			}
			hooks = append(hooks, h)
		}
	}
	if len(hooks) == 0 {
		return nil, nil
	}

	// The webhook's Service, its endpoints and pods, wherever the
	// diagnosis is limited to.
	type backend struct {
		svc    *corev1.Service
		slices []*discoveryv1.EndpointSlice
		pods   []*corev1.Pod
		ready  int
	}
	backends := map[string]*backend{}
	for _, h := range hooks {
		if h.service == nil {
			continue
		}
		key := h.service.Namespace + "/" + h.service.Name
		if backends[key] != nil {
			continue
		}
		// webhook -> Service -> EndpointSlices -> pods, from the state.
		bk, err := st.WebhookBackend(h.service)
		if ok, err := r.optional(err); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		backends[key] = &backend{svc: bk.Service, slices: bk.Slices, pods: bk.Pods, ready: bk.Ready}
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	failed, err := r.webhookFailures(events)
	if err != nil {
		return nil, err
	}

	var out []casebook.Finding
	// Webhooks whose Service has no ready endpoint.
	down := map[string]bool{}
	for _, policy := range []admissionregistrationv1.FailurePolicyType{admissionregistrationv1.Fail, admissionregistrationv1.Ignore} {
		f := casebook.Finding{CaseID: "O-001"}
		var seen []string
		for _, h := range hooks {
			if h.policy != policy || h.service == nil {
				continue
			}
			key := h.service.Namespace + "/" + h.service.Name
			if b := backends[key]; b == nil || b.ready > 0 {
				continue
			}
			down[h.name] = true
			f.Objects = appendRef(f.Objects, ref(casebook.KindValidatingWebhookConfiguration, h.config))
			f.Evidence = append(f.Evidence, h.quote())
			if !slices.Contains(seen, key) {
				seen = append(seen, key)
			}
		}
		if len(seen) == 0 {
			continue
		}
		for _, key := range seen {
			b := backends[key]
			if b.svc == nil {
				f.Evidence = append(f.Evidence, quote(casebook.KindService, key, "not found"))
				continue
			}
			f.Objects = appendRef(f.Objects, ref(casebook.KindService, b.svc))
			f.Evidence = append(f.Evidence, quoteSlices(b.slices)...)
			if len(b.slices) == 0 {
				f.Evidence = append(f.Evidence, quote(casebook.KindService, key, "has no EndpointSlice"))
			}
			if len(b.pods) == 0 {
				f.Evidence = append(f.Evidence, quoteOf(casebook.KindService, b.svc, "spec.selector: %s (matches no pod)", formatLabels(b.svc.Spec.Selector)))
			}
			for _, p := range b.pods {
				f.Objects = appendRef(f.Objects, ref(casebook.KindPod, p))
				f.Evidence = append(f.Evidence, quotePodHealth(p, events)...)
			}
		}
		if policy == admissionregistrationv1.Fail {
			f.Cause = "webhook-down-fail-closed"
			f.Message = "Gatekeeper's webhook Service has no ready pod and the webhook fails closed (failurePolicy Fail): the API server rejects every write it matches"
		} else {
			f.Cause = "webhook-down-fail-open"
			f.Message = "Gatekeeper's webhook Service has no ready pod and the webhook fails open (failurePolicy Ignore): writes wait for the call to fail and then pass with no policy checked"
		}
		for _, fw := range failed {
			if down[fw.webhook] && policyOf(hooks, fw.webhook) == policy {
				f.Objects = appendRef(f.Objects, fw.object)
				f.Evidence = append(f.Evidence, quoteEvent(fw.event))
			}
		}
		out = append(out, f)
	}

	// Calls that failed although the Service has ready pods: the cause is
	// in the call itself, as the error's tail says.
	byCause := map[string]*casebook.Finding{}
	var causes []string
	for _, fw := range failed {
		if down[fw.webhook] {
			continue
		}
		cause, msg := classifyWebhookError(fw.event.Message)
		if cause == "" {
			continue
		}
		f := byCause[cause]
		if f == nil {
			f = &casebook.Finding{CaseID: "O-001", Cause: cause, Message: msg}
			byCause[cause] = f
			causes = append(causes, cause)
			for _, h := range hooks {
				if h.name == fw.webhook {
					f.Objects = appendRef(f.Objects, ref(casebook.KindValidatingWebhookConfiguration, h.config))
					f.Evidence = append(f.Evidence, h.quote())
					if h.service != nil {
						if b := backends[h.service.Namespace+"/"+h.service.Name]; b != nil {
							f.Evidence = append(f.Evidence, quoteSlices(b.slices)...)
						}
					}
				}
			}
		}
		f.Objects = appendRef(f.Objects, fw.object)
		f.Evidence = append(f.Evidence, quoteEvent(fw.event))
	}
	for _, c := range causes {
		out = append(out, *byCause[c])
	}
	return r.done(out)
}

// policyOf returns the failure policy of the named Gatekeeper webhook.
func policyOf(hooks []gkWebhook, name string) admissionregistrationv1.FailurePolicyType {
	for _, h := range hooks {
		if h.name == name {
			return h.policy
		}
	}
	return ""
}

// classifyWebhookError sorts a failed webhook call by the error's tail.
func classifyWebhookError(msg string) (cause, message string) {
	switch {
	case strings.Contains(msg, "context deadline exceeded") || strings.Contains(msg, "Client.Timeout exceeded") || strings.Contains(msg, "i/o timeout"):
		return "webhook-timeout", "calls to Gatekeeper's webhook time out although its pods are ready: policy evaluation is slow, the API server cannot reach the pods, or timeoutSeconds is too tight for the node"
	case strings.Contains(msg, "x509:"):
		return "webhook-certificate", "the API server does not trust the certificate of Gatekeeper's webhook: its caBundle and the serving certificate do not match"
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "proxy error from") || strings.Contains(msg, "no route to host"):
		return "webhook-unreachable", "the API server cannot connect to Gatekeeper's webhook pods although they are ready: the path from the API server to the pods is broken"
	}
	return "", ""
}

// webhookFailure is an event quoting a failed call to a Gatekeeper
// webhook, on a workload that still misses what it failed to create.
type webhookFailure struct {
	webhook string
	object  casebook.ObjectRef
	event   *corev1.Event
}

// webhookFailures returns the latest event per object quoting a failed
// Gatekeeper webhook call. A ReplicaSet, StatefulSet or DaemonSet that has
// all its pods since is past the failure and left out.
func (r *reader) webhookFailures(events *cluster.EventIndex) ([]webhookFailure, error) {
	type key struct{ kind, ns, name, webhook string }
	latest := map[key]*corev1.Event{}
	var keys []key
	for _, e := range events.All() {
		if e.Type != corev1.EventTypeWarning {
			continue
		}
		m := webhookCallFailed.FindStringSubmatch(e.Message)
		if m == nil {
			continue
		}
		k := key{e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name, m[1]}
		if latest[k] == nil {
			keys = append(keys, k)
		} else if cluster.EventTime(e).Before(cluster.EventTime(latest[k])) {
			continue
		}
		latest[k] = e
	}
	if len(keys) == 0 {
		return nil, nil
	}
	complete, err := r.completeWorkloads()
	if err != nil {
		return nil, err
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.kind+"/"+a.ns+"/"+a.name+"/"+a.webhook < b.kind+"/"+b.ns+"/"+b.name+"/"+b.webhook
	})
	var out []webhookFailure
	for _, k := range keys {
		if complete[k.kind+"/"+k.ns+"/"+k.name] {
			continue
		}
		out = append(out, webhookFailure{webhook: k.webhook,
			object: casebook.ObjectRef{Kind: k.kind, Namespace: k.ns, Name: k.name}, event: latest[k]})
	}
	return out, nil
}

// completeWorkloads returns the ReplicaSets, StatefulSets and DaemonSets
// that have every pod they want ("Kind/ns/name").
func (r *reader) completeWorkloads() (map[string]bool, error) {
	out := map[string]bool{}
	add := func(kind casebook.Kind, obj metav1.Object) {
		out[string(kind)+"/"+obj.GetNamespace()+"/"+obj.GetName()] = true
	}
	rss, err := cluster.List[appsv1.ReplicaSet](r.st, casebook.KindReplicaSet, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, rs := range rss {
			if rs.Spec.Replicas != nil && rs.Status.Replicas >= *rs.Spec.Replicas {
				add(casebook.KindReplicaSet, rs)
			}
		}
	}
	sts, err := cluster.List[appsv1.StatefulSet](r.st, casebook.KindStatefulSet, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, s := range sts {
			if s.Spec.Replicas != nil && s.Status.Replicas >= *s.Spec.Replicas {
				add(casebook.KindStatefulSet, s)
			}
		}
	}
	dss, err := cluster.List[appsv1.DaemonSet](r.st, casebook.KindDaemonSet, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, d := range dss {
			if d.Status.CurrentNumberScheduled >= d.Status.DesiredNumberScheduled {
				add(casebook.KindDaemonSet, d)
			}
		}
	}
	return out, nil
}

// quotePodHealth quotes why a pod serves nothing: its Ready condition,
// waiting or crashed containers, how its containers last ended, and its
// latest scheduling or probe event.
func quotePodHealth(p *corev1.Pod, events *cluster.EventIndex) []casebook.Evidence {
	var out []casebook.Evidence
	if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
		out = append(out, quotePodCondition(p, c))
	} else if c := podCondition(p, corev1.PodReady); c != nil {
		out = append(out, quotePodCondition(p, c))
	} else {
		out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "status.phase: %s", p.Status.Phase))
	}
	out = append(out, waitingReasons(p)...)
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.LastTerminationState.Terminated; t != nil && t.Reason != "" {
			out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "container %s last terminated: %s (exit code %d), restartCount %d", cs.Name, t.Reason, t.ExitCode, cs.RestartCount))
		}
	}
	if e := last(events.Of("Pod", p, "FailedScheduling", "Unhealthy", "BackOff")); e != nil {
		out = append(out, quoteEventsOf(p, []*corev1.Event{e})...)
	}
	return out
}

// o001Steps are the next steps of GatekeeperWebhookTimeout findings, by cause.
var o001Steps = stepsByCause{
	"webhook-down-fail-closed": {
		{Step: 1, Kind: casebook.KindValidatingWebhookConfiguration, Cmd: `kubectl get validatingwebhookconfiguration %name% -o yaml`},
		{Step: 2, Kind: casebook.KindService, Cmd: `kubectl get endpointslices -n %ns% -l kubernetes.io/service-name=%name%`},
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
	},
	"webhook-down-fail-open": {
		{Step: 1, Kind: casebook.KindValidatingWebhookConfiguration, Cmd: `kubectl get validatingwebhookconfiguration %name% -o yaml`},
		{Step: 2, Kind: casebook.KindService, Cmd: `kubectl get endpointslices -n %ns% -l kubernetes.io/service-name=%name%`},
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
	},
	"": {
		{Step: 1, Kind: casebook.KindReplicaSet, Cmd: `kubectl describe replicaset -n %ns% %name%`},
		{Step: 1, Kind: casebook.KindStatefulSet, Cmd: `kubectl describe statefulset -n %ns% %name%`},
		{Step: 1, Kind: casebook.KindDaemonSet, Cmd: `kubectl describe daemonset -n %ns% %name%`},
		{Step: 1, Kind: casebook.KindValidatingWebhookConfiguration, Cmd: `kubectl get validatingwebhookconfiguration %name% -o yaml`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (GatekeeperWebhookTimeout) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return o001Steps.of(f.Cause)
}

// o001ZH are the messages of GatekeeperWebhookTimeout findings in Chinese, by cause.
var o001ZH = zhByCause{
	"webhook-down-fail-closed": `Gatekeeper webhook 的 Service 没有就绪 Pod，且 webhook 失败即拒绝（failurePolicy Fail）：API server 拒绝它匹配的每个写请求`,
	"webhook-down-fail-open":   `Gatekeeper webhook 的 Service 没有就绪 Pod，且 webhook 失败即放行（failurePolicy Ignore）：写请求要等调用失败，然后不经任何策略检查通过`,
	"webhook-timeout":          `Pod 已就绪，但调用 Gatekeeper webhook 超时：策略计算慢、API server 到不了 Pod，或 timeoutSeconds 对该节点太紧`,
	"webhook-certificate":      `API server 不信任 Gatekeeper webhook 的证书：caBundle 与服务证书不匹配`,
	"webhook-unreachable":      `Pod 已就绪，但 API server 连不上 Gatekeeper webhook Pod：API server 到 Pod 的路径不通`,
}

// MessageZH returns the finding's message in Chinese.
func (GatekeeperWebhookTimeout) MessageZH(f *casebook.Finding) string { return o001ZH.of(f.Cause) }

// Symptom reports whether a finding of the cause can be the consequence of
// another finding (its pods' own fault, say): only those are shown under
// a root cause.
func (GatekeeperWebhookTimeout) Symptom(cause string) bool {
	switch strings.SplitN(cause, "+", 2)[0] {
	case "webhook-timeout", "webhook-unreachable", "webhook-down-fail-closed", "webhook-down-fail-open":
		return true
	}
	return false
}
