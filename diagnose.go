package casebook

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// Kind names a kind of cluster object as detectors ask for it: a built-in
// kind by its plain name ("Pod", "EndpointSlice"), or any other kind
// qualified with its API group ("HelmChart.helm.cattle.io").
type Kind string

// The built-in kinds that sources know how to read as typed objects.
const (
	KindNode                           Kind = "Node"
	KindNamespace                      Kind = "Namespace"
	KindPod                            Kind = "Pod"
	KindEvent                          Kind = "Event"
	KindService                        Kind = "Service"
	KindEndpointSlice                  Kind = "EndpointSlice"
	KindIngress                        Kind = "Ingress"
	KindIngressClass                   Kind = "IngressClass"
	KindSecret                         Kind = "Secret"
	KindConfigMap                      Kind = "ConfigMap"
	KindPersistentVolumeClaim          Kind = "PersistentVolumeClaim"
	KindPersistentVolume               Kind = "PersistentVolume"
	KindStorageClass                   Kind = "StorageClass"
	KindDeployment                     Kind = "Deployment"
	KindDaemonSet                      Kind = "DaemonSet"
	KindStatefulSet                    Kind = "StatefulSet"
	KindReplicaSet                     Kind = "ReplicaSet"
	KindJob                            Kind = "Job"
	KindRuntimeClass                   Kind = "RuntimeClass"
	KindNetworkPolicy                  Kind = "NetworkPolicy"
	KindValidatingWebhookConfiguration Kind = "ValidatingWebhookConfiguration"
)

// AllNamespaces asks a Source for the objects of every namespace it covers.
const AllNamespaces = ""

// Source is cluster state as detectors read it: a live cluster or a
// snapshot.
//
// List returns the objects of kind in namespace, or in every namespace the
// source covers when namespace is AllNamespaces; cluster-scoped kinds ignore
// namespace. Built-in kinds come back as typed objects from k8s.io/api
// (*corev1.Pod), other kinds as *unstructured.Unstructured. Secrets come
// back as *metav1.PartialObjectMetadata: a Source never hands out Secret
// data. The returned objects are shared and must not be modified.
//
// A kind the caller may not read fails with an error wrapping ErrForbidden;
// a kind the cluster does not serve (no such CRD) with one wrapping
// ErrNotServed.
type Source interface {
	List(ctx context.Context, kind Kind, namespace string) ([]runtime.Object, error)
}

// ErrForbidden is wrapped by Source errors for kinds the caller may not read.
var ErrForbidden = errors.New("forbidden")

// ErrNotServed is wrapped by Source errors for kinds the cluster does not serve.
var ErrNotServed = errors.New("not served by the cluster")

// ObjectRef names a cluster object.
type ObjectRef struct {
	Kind      string `json:"kind" yaml:"kind"`
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Name      string `json:"name" yaml:"name"`
}

// String returns "Kind namespace/name", or "Kind name" for cluster-scoped objects.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Finding is one case found in cluster state: which case, on which objects,
// why, with the evidence quoted verbatim and where to start investigating.
type Finding struct {
	// ID names the finding within its report ("S-001/no-default-storage-class/PersistentVolumeClaim/historian/data-historian-0"),
	// for the links between findings.
	ID     string `json:"id" yaml:"id"`
	CaseID string `json:"case" yaml:"case"`
	// Severity is the case's severity; the engine fills it from the library.
	Severity Severity `json:"severity" yaml:"severity"`
	// Cause is a short stable key of the root cause within the case
	// ("insufficient-memory"). Findings with the same case and cause are
	// grouped into one, listing all their objects.
	Cause   string      `json:"cause" yaml:"cause"`
	Objects []ObjectRef `json:"objects" yaml:"objects"`
	// Message says in one line what is wrong, without naming the objects;
	// MessageZH says the same in Chinese.
	Message   string `json:"message" yaml:"message"`
	MessageZH string `json:"message_zh" yaml:"message_zh"`
	// Evidence quotes what the cluster says, verbatim: an event message, a
	// condition, a status field, each with the object and field it comes
	// from.
	Evidence []Evidence `json:"evidence" yaml:"evidence"`
	// CausedBy lists the IDs of the findings that explain this one (its
	// root causes, one step up); Causes the findings it explains. A
	// finding with no CausedBy is a root cause.
	CausedBy []string `json:"caused_by,omitempty" yaml:"caused_by,omitempty"`
	Causes   []string `json:"causes,omitempty" yaml:"causes,omitempty"`
	// Next are the commands to run next, for this finding's own objects,
	// each tied to the step of the case's investigation it comes from.
	Next []Step `json:"next,omitempty" yaml:"next,omitempty"`
	// NextStep is advice in words where no command applies (inspect's
	// findings about a file).
	NextStep string `json:"next_step,omitempty" yaml:"next_step,omitempty"`
}

// Step is a command to run next: a command line that can be pasted as is,
// where it runs, and the step of the case it comes from.
type Step struct {
	Command string `json:"command" yaml:"command"`
	// Node names the node the command runs on (a shell there); empty for
	// kubectl commands, which run wherever the kubeconfig is.
	Node string `json:"node,omitempty" yaml:"node,omitempty"`
	// Ref points at the case step: "K-002#排查过程" and its number.
	Ref    string `json:"ref" yaml:"ref"`
	StepNo int    `json:"step" yaml:"step"`
	// Title is the step's title in the case (Chinese).
	Title string `json:"title,omitempty" yaml:"title,omitempty"`
	// Objects are the cluster objects the command names.
	Objects []ObjectRef `json:"objects,omitempty" yaml:"objects,omitempty"`
}

// Evidence is one thing the cluster says, quoted: the object it comes from,
// the field (or event) of that object, and the text verbatim. Evidence
// about the cluster as a whole ("no StorageClass is marked default") names
// the kind it is about and no object name.
type Evidence struct {
	Object ObjectRef `json:"object" yaml:"object"`
	Field  string    `json:"field,omitempty" yaml:"field,omitempty"`
	Text   string    `json:"text" yaml:"text"`
}

// String returns the evidence on one line: "Pod shop/api-1 status.phase: Pending".
func (e Evidence) String() string {
	var b strings.Builder
	if e.Object.Name != "" {
		b.WriteString(e.Object.String())
	}
	if e.Field != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Field)
	}
	if e.Text != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Text)
	}
	return b.String()
}

// Warning is something that kept a diagnosis from being complete: a
// detector that failed or timed out, a kind that could not be read, a
// snapshot file that did not parse.
type Warning struct {
	// Source says where the warning comes from: a case ID, "snapshot" or "live".
	Source  string `json:"source" yaml:"source"`
	Message string `json:"message" yaml:"message"`
}

func (w Warning) String() string { return w.Source + ": " + w.Message }

var (
	firstStep = regexp.MustCompile(`^\s{0,3}1[.)、]\s+(.+)$`)
	anyStep   = regexp.MustCompile(`^\s{0,3}\d+[.)、]\s+`)
)

// FirstStep returns the first numbered step of the case's 排查过程
// (investigation) section, as plain text without Markdown emphasis, followed
// by the step's first command when it has one ("… → kubectl get pods -A"),
// or "" when the section has no numbered step yet.
func (c *Case) FirstStep() string {
	s := c.Section("排查过程")
	if s == nil {
		return ""
	}
	step, fence, cmd := "", "", ""
	for _, ln := range strings.Split(s.Text, "\n") {
		t := strings.TrimSpace(ln)
		if fence != "" {
			if cmd != "" {
				// A continued command ("\" at the end) goes on here.
				cmd += " " + strings.TrimSuffix(t, "\\")
				if !strings.HasSuffix(t, "\\") || strings.HasPrefix(t, fence) {
					return nextStep(step, strings.TrimSpace(strings.TrimSuffix(cmd, fence)))
				}
				continue
			}
			if strings.HasPrefix(t, fence) {
				fence = ""
				continue
			}
			if step != "" {
				if c := commandLine(t); c != "" {
					if !strings.HasSuffix(t, "\\") {
						return nextStep(step, c)
					}
					cmd = strings.TrimSpace(strings.TrimSuffix(c, "\\"))
				}
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		if step != "" && anyStep.MatchString(ln) {
			break // the next step: the first one had no command
		}
		if m := firstStep.FindStringSubmatch(ln); m != nil {
			step = plainMarkdown(m[1])
		}
	}
	return step
}

// InvestigationStep returns the title of step n (from 1) of the case's
// 排查过程 section, as plain text without Markdown emphasis, or "".
func (c *Case) InvestigationStep(n int) string {
	s := c.Section("排查过程")
	if s == nil {
		return ""
	}
	fence := ""
	for _, ln := range strings.Split(s.Text, "\n") {
		t := strings.TrimSpace(ln)
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		if m := numberedStep.FindStringSubmatch(ln); m != nil && m[1] == strconv.Itoa(n) {
			title := plainMarkdown(m[2])
			// The bold lead is the title; what follows is explanation.
			if strings.HasPrefix(strings.TrimSpace(m[2]), "**") {
				if i := strings.Index(m[2][2:], "**"); i >= 0 {
					title = plainMarkdown(m[2][2 : 2+i])
				}
			}
			return title
		}
	}
	return ""
}

var numberedStep = regexp.MustCompile(`^\s{0,3}(\d+)[.)、]\s+(.+)$`)

func nextStep(step, cmd string) string {
	return strings.TrimRight(step, "：:") + " → " + cmd
}

// commandLine returns the command on a code block line: a console prompt and
// a trailing comment are dropped, and comment and blank lines give "".
func commandLine(t string) string {
	t = strings.TrimSpace(strings.TrimPrefix(t, "$ "))
	if t == "" || strings.HasPrefix(t, "#") {
		return ""
	}
	if i := strings.Index(t, "  #"); i > 0 {
		t = strings.TrimSpace(t[:i])
	}
	return t
}

var mdEmphasis = strings.NewReplacer("**", "", "__", "", "`", "")

func plainMarkdown(s string) string {
	return strings.TrimSpace(mdEmphasis.Replace(s))
}

// SortKey orders findings: most severe first, then by case ID, then by the
// first object.
func (f *Finding) SortKey() string {
	first := ""
	if len(f.Objects) > 0 {
		first = f.Objects[0].String()
	}
	return fmt.Sprintf("%d|%s|%s|%s", 9-f.Severity.Rank(), f.CaseID, first, f.Cause)
}
