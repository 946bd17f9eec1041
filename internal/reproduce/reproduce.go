// Package reproduce makes a case happen on a lab cluster and proves its
// solution: it applies a reproduction's broken objects into the lab's own
// namespace, waits until diagnose reports the case, applies the fix, waits
// until the finding clears, and removes everything it created.
//
// It is the only part of casebook that writes to a cluster, and it writes
// within fixed bounds: every namespaced object goes into
// casebook-lab-<id> (a namespace it creates and labels), every
// cluster-scoped object must be named casebook-lab-…, and every object
// carries the label LabelKey=<id>, by which a later run finds and removes
// what a crashed run left behind. Everything else in casebook reads through
// the read-only transport guard of internal/live.
package reproduce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	repros "github.com/casebook-dev/casebook/cases/reproduce"
)

const (
	// LabelKey marks every object a reproduction creates; its value is the
	// lower-case case ID.
	LabelKey = "casebook.dev/reproduce"
	// NamePrefix starts the lab namespace and every cluster-scoped object.
	NamePrefix = "casebook-lab-"
	// FieldManager is the server-side apply manager of every write.
	FieldManager = "casebook-reproduce"
)

// Reproduction is one case's reproduction, as cases/reproduce/<ID>/ holds it.
type Reproduction struct {
	CaseID    string        `json:"case"`
	Needs     []string      `json:"needs"`
	Timeout   time.Duration `json:"-"`
	SummaryEN string        `json:"summary_en"`
	// Expect lists the finding causes broken must produce; a run waits
	// until all of them are reported (at least one finding when empty).
	Expect []string `json:"expect"`
	// Broken makes the case happen; Fix is the whole state after its
	// solution: objects of Broken that Fix leaves out are deleted.
	Broken []*unstructured.Unstructured `json:"-"`
	Fix    []*unstructured.Unstructured `json:"-"`
}

// Namespace is the lab namespace of a case: casebook-lab-k-002.
func Namespace(caseID string) string { return NamePrefix + strings.ToLower(caseID) }

// LabelValue is the value of LabelKey for a case.
func LabelValue(caseID string) string { return strings.ToLower(caseID) }

// Namespace is the lab namespace of this reproduction.
func (r *Reproduction) Namespace() string { return Namespace(r.CaseID) }

var idPattern = regexp.MustCompile(`^[A-Z]-\d{3}$`)

// LoadAll reads every reproduction of fsys (one directory per case ID).
func LoadAll(fsys fs.FS) (map[string]*Reproduction, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	out := map[string]*Reproduction{}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := Load(fsys, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[r.CaseID] = r
	}
	return out, errors.Join(errs...)
}

// IDs lists the case IDs that have a reproduction, sorted.
func IDs(all map[string]*Reproduction) []string {
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Load reads the reproduction in directory dir of fsys and checks it.
func Load(fsys fs.FS, dir string) (*Reproduction, error) {
	if !idPattern.MatchString(dir) {
		return nil, fmt.Errorf("reproduction %s: the directory must be named by a case ID like K-002", dir)
	}
	readme, err := fs.ReadFile(fsys, path.Join(dir, "README.md"))
	if err != nil {
		return nil, fmt.Errorf("reproduction %s: %w", dir, err)
	}
	r, err := parseFrontMatter(readme)
	if err != nil {
		return nil, fmt.Errorf("reproduction %s/README.md: %w", dir, err)
	}
	if r.CaseID != dir {
		return nil, fmt.Errorf("reproduction %s/README.md: case %q does not match its directory", dir, r.CaseID)
	}
	for _, s := range []struct {
		file string
		dst  *[]*unstructured.Unstructured
	}{{"broken.yaml", &r.Broken}, {"fix.yaml", &r.Fix}} {
		data, err := fs.ReadFile(fsys, path.Join(dir, s.file))
		if err != nil {
			return nil, fmt.Errorf("reproduction %s: %w", dir, err)
		}
		objs, err := decode(data)
		if err != nil {
			return nil, fmt.Errorf("reproduction %s/%s: %w", dir, s.file, err)
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("reproduction %s/%s: no objects", dir, s.file)
		}
		*s.dst = objs
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func parseFrontMatter(data []byte) (*Reproduction, error) {
	rest, ok := bytes.CutPrefix(data, []byte("---\n"))
	if !ok {
		return nil, errors.New("no front matter (--- … ---) at the top")
	}
	fm, _, ok := bytes.Cut(rest, []byte("\n---\n"))
	if !ok {
		return nil, errors.New("front matter is not closed by ---")
	}
	var raw struct {
		Reproduction
		Timeout string `json:"timeout"`
	}
	if err := yaml.UnmarshalStrict(fm, &raw); err != nil {
		return nil, err
	}
	r := raw.Reproduction
	r.Timeout = 2 * time.Minute
	if raw.Timeout != "" {
		d, err := time.ParseDuration(raw.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("timeout %q is not a positive duration", raw.Timeout)
		}
		r.Timeout = d
	}
	return &r, nil
}

func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("object %d needs apiVersion, kind and metadata.name", len(out)+1)
		}
		out = append(out, u)
	}
}

// clusterScoped are the kinds a reproduction may create outside its
// namespace; anything else must be namespaced.
var clusterScoped = map[string]bool{
	"RuntimeClass": true, "StorageClass": true, "IngressClass": true,
	"PersistentVolume": true, "ValidatingWebhookConfiguration": true,
	"ConstraintTemplate": true,
}

// refused are kinds a reproduction may never carry, namespaced or not:
// they would widen someone's rights or hold credentials.
var refused = map[string]bool{
	"Namespace": true, "Secret": true, "Node": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
	"MutatingWebhookConfiguration": true, "CustomResourceDefinition": true,
	"APIService": true,
}

// IsClusterScoped reports whether the reproduction format treats kind as
// cluster-scoped. Gatekeeper constraints (group constraints.gatekeeper.sh)
// are cluster-scoped too.
func IsClusterScoped(u *unstructured.Unstructured) bool {
	return clusterScoped[u.GetKind()] || strings.HasPrefix(u.GetAPIVersion(), "constraints.gatekeeper.sh/")
}

// Validate checks the bounds every reproduction keeps: no namespace of its
// own choosing, cluster-scoped objects named casebook-lab-…, no kind that
// grants rights or holds credentials, and no object twice.
func (r *Reproduction) Validate() error {
	if !idPattern.MatchString(r.CaseID) {
		return fmt.Errorf("reproduction: case %q is not a case ID", r.CaseID)
	}
	for _, set := range []struct {
		name string
		objs []*unstructured.Unstructured
	}{{"broken.yaml", r.Broken}, {"fix.yaml", r.Fix}} {
		seen := map[string]bool{}
		for _, u := range set.objs {
			where := fmt.Sprintf("reproduction %s/%s: %s %s", r.CaseID, set.name, u.GetKind(), u.GetName())
			if refused[u.GetKind()] {
				return fmt.Errorf("%s: a reproduction may not create a %s", where, u.GetKind())
			}
			if u.GetNamespace() != "" {
				return fmt.Errorf("%s: sets metadata.namespace; reproductions always go into %s", where, r.Namespace())
			}
			if IsClusterScoped(u) && !strings.HasPrefix(u.GetName(), NamePrefix) {
				return fmt.Errorf("%s: a cluster-scoped object must be named %s…", where, NamePrefix)
			}
			k := key(u)
			if seen[k] {
				return fmt.Errorf("%s: listed twice", where)
			}
			seen[k] = true
		}
	}
	return nil
}

func key(u *unstructured.Unstructured) string {
	return u.GetAPIVersion() + "/" + u.GetKind() + "/" + u.GetName()
}

// Prepared returns copies of objs as they are applied: namespaced objects
// in the lab namespace, every object labelled with LabelKey (and pod
// templates too, so that the pods a controller makes carry it).
func (r *Reproduction) Prepared(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		u := o.DeepCopy()
		if !IsClusterScoped(u) {
			u.SetNamespace(r.Namespace())
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelKey] = LabelValue(r.CaseID)
		u.SetLabels(labels)
		out = append(out, u)
	}
	return out
}

// Removed lists the objects of Broken that Fix leaves out: the fix deletes
// them.
func (r *Reproduction) Removed() []*unstructured.Unstructured {
	keep := map[string]bool{}
	for _, u := range r.Fix {
		keep[key(u)] = true
	}
	var out []*unstructured.Unstructured
	for _, u := range r.Broken {
		if !keep[key(u)] {
			out = append(out, u)
		}
	}
	return r.Prepared(out)
}

// Plan describes, one line per object, what a run creates: the namespace,
// then broken's objects, then what the fix applies and deletes.
func (r *Reproduction) Plan() []string {
	lines := []string{fmt.Sprintf("create Namespace %s (label %s=%s)", r.Namespace(), LabelKey, LabelValue(r.CaseID))}
	describe := func(verb string, u *unstructured.Unstructured) string {
		where := "cluster-scoped"
		if u.GetNamespace() != "" {
			where = "namespace " + u.GetNamespace()
		}
		return fmt.Sprintf("%s %s %s (%s, %s)", verb, u.GetKind(), u.GetName(), u.GetAPIVersion(), where)
	}
	for _, u := range r.Prepared(r.Broken) {
		lines = append(lines, describe("broken: apply", u))
	}
	for _, u := range r.Prepared(r.Fix) {
		lines = append(lines, describe("fix: apply", u))
	}
	for _, u := range r.Removed() {
		lines = append(lines, describe("fix: delete", u))
	}
	lines = append(lines, fmt.Sprintf("cleanup: delete Namespace %s and every cluster-scoped object labelled %s=%s", r.Namespace(), LabelKey, LabelValue(r.CaseID)))
	return lines
}

// Command is how to run the embedded reproduction of caseID, or "" when
// the case has none: what `casebook show` and the case page print.
func Command(caseID string) string {
	embeddedOnce.Do(func() { embedded, _ = LoadAll(repros.FS()) })
	if _, ok := embedded[caseID]; !ok {
		return ""
	}
	return "casebook reproduce " + caseID + " --context <lab> --dry-run"
}

var (
	embeddedOnce sync.Once
	embedded     map[string]*Reproduction
)
