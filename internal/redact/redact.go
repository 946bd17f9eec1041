// Package redact makes cluster objects safe to share: collect writes a
// bundle through it. It turns the old deny-list around: a value a detector
// does not read by name (declared in keep.go) leaves as a keyed hash,
// <redacted:sha256:…>, an HMAC-SHA256 under a random key made for each
// bundle and never written, so that equal values stay equal across
// objects and the value itself does not leave. What is kept (names,
// statuses, event messages, the annotations and flags detectors read) is
// scanned with gitleaks' rule set, casebook's rules and a team's, and
// every hit is hashed too. A Report says what was hashed or dropped, by
// rule and path, never the values.
package redact

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// HashPrefix starts every hashed value.
const HashPrefix = "<redacted:sha256:"

// lastApplied is the annotation kubectl apply keeps a copy of the whole
// object in.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Options configure a Redactor.
type Options struct {
	// Key is the HMAC key; nil makes a random one (what a bundle uses).
	Key []byte
	// TeamRules are extra scanner rules in gitleaks' TOML format
	// (collect --redact-config).
	TeamRules []byte
	// Needs are the detectors' declarations; nil means Detectors.
	Needs []Needs
}

// Redactor redacts the objects of one bundle.
type Redactor struct {
	key  []byte
	keep *Keep
	scan *Scanner
	rep  *Report
}

// New returns a Redactor for one bundle.
func New(opts Options) (*Redactor, error) {
	key := opts.Key
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make the bundle's hash key: %w", err)
		}
	}
	needs := opts.Needs
	if needs == nil {
		needs = Detectors
	}
	keep, err := NewKeep(needs...)
	if err != nil {
		return nil, err
	}
	scan, err := NewScanner(opts.TeamRules)
	if err != nil {
		return nil, err
	}
	return &Redactor{key: key, keep: keep, scan: scan, rep: newReport(scan, len(opts.TeamRules) > 0)}, nil
}

// Hash returns the keyed hash that stands for v in this bundle.
func (r *Redactor) Hash(v string) string {
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(v))
	// 80 bits tell values apart in any cluster and keep the bundle legible.
	return HashPrefix + hex.EncodeToString(mac.Sum(nil))[:20] + ">"
}

// Report returns what has been hashed and dropped so far.
func (r *Redactor) Report() *Report { return r.rep }

// ReportJSON renders the report for redaction-report.json, with the
// keep-list and the detectors that declared each entry.
func (r *Redactor) ReportJSON() ([]byte, error) { return r.rep.JSON(r.keep) }

// Object returns obj, of casebook kind kind, as a map with every value a
// detector does not read by name hashed, every credential the scanner
// finds in the rest hashed, managed fields and kubectl's last-applied copy
// dropped, and a Secret reduced to its metadata.
func (r *Redactor) Object(kind string, obj runtime.Object) (map[string]any, error) {
	var m map[string]any
	if u, ok := obj.(*unstructured.Unstructured); ok {
		m = runtime.DeepCopyJSON(u.Object)
	} else {
		var err error
		if m, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err != nil {
			return nil, err
		}
	}
	md, _ := m["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	w := &walker{r: r, kind: kind, object: kind + " " + strings.TrimPrefix(ns+"/"+name, "/")}
	switch {
	case kind == "Secret":
		// A Secret leaves as metadata only, whatever the source gave.
		m = map[string]any{"apiVersion": m["apiVersion"], "kind": m["kind"], "metadata": md}
		w.metadata(md, "metadata", true)
	case kind == "ConfigMap":
		w.metadata(md, "metadata", false)
		w.configMap(m)
	case strings.Contains(kind, "."):
		w.custom(m)
	default:
		w.walk(m, "")
	}
	w.scanKept()
	return m, nil
}

// walker redacts one object.
type walker struct {
	r      *Redactor
	kind   string
	object string
	kept   []keptLeaf
}

// keptLeaf is a string kept as it is, to be scanned.
type keptLeaf struct {
	path string
	get  func() string
	set  func(string)
}

func (w *walker) hash(path, rule, v string) string {
	w.r.rep.add(w.object, path, rule, "hashed")
	return w.r.Hash(v)
}

func (w *walker) keepLeaf(path string, get func() string, set func(string)) {
	w.kept = append(w.kept, keptLeaf{path: path, get: get, set: set})
}

// metadata redacts an object's (or a pod template's) metadata: managed
// fields and the last-applied copy go; an annotation keeps its value only
// when a detector reads it; labels are kept unless their name or value
// looks like a credential.
func (w *walker) metadata(md map[string]any, path string, secret bool) {
	if md == nil {
		return
	}
	if _, ok := md["managedFields"]; ok {
		delete(md, "managedFields")
	}
	if ann, ok := md["annotations"].(map[string]any); ok {
		for k, v := range ann {
			s, _ := v.(string)
			p := path + ".annotations[" + k + "]"
			switch {
			case k == lastApplied:
				delete(ann, k)
				w.r.rep.add(w.object, p, "last-applied", "dropped")
			case secret && !contains(SecretAnnotations, k):
				delete(ann, k)
				w.r.rep.add(w.object, p, "secret-annotation", "dropped")
			case w.r.keep.argAnnotations[k]:
				ann[k] = w.argAnnotation(p, s)
				w.keepMapValue(ann, k, p)
			case w.r.keep.annotations[k] || secret:
				w.keepMapValue(ann, k, p)
			case s != "":
				ann[k] = w.hash(p, "annotation", s)
			}
		}
		if len(ann) == 0 {
			delete(md, "annotations")
		}
	}
	if labels, ok := md["labels"].(map[string]any); ok {
		w.labels(labels, path+".labels")
	}
	for _, k := range []string{"name", "namespace", "generateName"} {
		if _, ok := md[k].(string); ok {
			w.keepMapValue(md, k, path+"."+k)
		}
	}
}

// argAnnotation redacts an annotation that holds a JSON array of
// command-line arguments, as K3s's k3s.io/node-args does.
func (w *walker) argAnnotation(path, s string) string {
	var args []any
	if err := json.Unmarshal([]byte(s), &args); err != nil {
		return w.hash(path, "annotation", s)
	}
	// The arguments are scanned as the annotation they go back into.
	sub := &walker{r: w.r, kind: w.kind, object: w.object}
	sub.args(args, path, false)
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(args); err != nil {
		return w.hash(path, "annotation", s)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (w *walker) keepMapValue(m map[string]any, k, path string) {
	if _, ok := m[k].(string); !ok {
		return
	}
	w.keepLeaf(path, func() string { s, _ := m[k].(string); return s }, func(v string) { m[k] = v })
}

// labels keeps label values, which selectors match, unless the label's
// name looks like a credential or the scanner finds one in it. The rule
// depends only on the name and value, so a selector that matched a label
// still matches it after both are redacted.
func (w *walker) labels(m map[string]any, path string) {
	for k, v := range m {
		s, ok := v.(string)
		if !ok || s == "" {
			continue
		}
		if looksLikeCredential(k) || len(w.r.scan.Find(k+": "+s)) > 0 {
			m[k] = w.hash(path+"["+k+"]", "label", s)
		}
	}
}

// labelValues treats matchExpressions' values as the values of its key.
func (w *walker) labelValues(v any, path string) {
	list, _ := v.([]any)
	for i, item := range list {
		e, ok := item.(map[string]any)
		if !ok {
			continue
		}
		key, _ := e["key"].(string)
		values, _ := e["values"].([]any)
		for j, x := range values {
			if s, ok := x.(string); ok && s != "" && (looksLikeCredential(key) || len(w.r.scan.Find(key+": "+s)) > 0) {
				values[j] = w.hash(fmt.Sprintf("%s[%d].values[%d]", path, i, j), "label", s)
			}
		}
	}
}

// walk redacts the free-form places of a built-in kind wherever they
// appear (pods, pod templates, probes) and keeps the rest for the scan.
func (w *walker) walk(v any, path string) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			p := join(path, k)
			switch k {
			case "metadata":
				if md, ok := child.(map[string]any); ok {
					w.metadata(md, p, false)
					continue
				}
			case "env":
				w.env(child, p)
				continue
			case "args", "command":
				if list, ok := child.([]any); ok {
					w.args(list, p, k == "command")
					continue
				}
			case "httpHeaders":
				w.headers(child, p)
				continue
			case "labels", "matchLabels", "nodeSelector", "selector":
				if stringMap(child) {
					w.labels(child.(map[string]any), p)
					continue
				}
			case "matchExpressions":
				w.labelValues(child, p)
			case "volumeAttributes", "options", "parameters":
				// CSI volume attributes, flex volume options, StorageClass
				// parameters: free-form maps no detector reads.
				if stringMap(child) {
					w.hashMap(child.(map[string]any), p, "free-form-map")
					continue
				}
			}
			if _, ok := child.(string); ok {
				w.keepMapValue(t, k, p)
				continue
			}
			w.walk(child, p)
		}
	case []any:
		for i, child := range t {
			p := fmt.Sprintf("%s[%d]", path, i)
			if _, ok := child.(string); ok {
				w.keepListValue(t, i, p)
				continue
			}
			w.walk(child, p)
		}
	}
}

func (w *walker) keepListValue(list []any, i int, path string) {
	w.keepLeaf(path, func() string { s, _ := list[i].(string); return s }, func(v string) { list[i] = v })
}

func (w *walker) hashMap(m map[string]any, path, rule string) {
	for k, v := range m {
		if s, ok := v.(string); ok && s != "" {
			m[k] = w.hash(path+"["+k+"]", rule, s)
		}
	}
}

// env hashes environment values; a variable a detector reads by name keeps
// its value. References (valueFrom) are names, not values, and stay.
func (w *walker) env(v any, path string) {
	list, _ := v.([]any)
	for i, item := range list {
		e, ok := item.(map[string]any)
		if !ok {
			continue
		}
		name, _ := e["name"].(string)
		p := fmt.Sprintf("%s[%s]", path, name)
		if name == "" {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		for k, x := range e {
			switch {
			case k == "value":
				s, _ := x.(string)
				if s == "" {
					continue
				}
				if w.r.keep.envNames[name] {
					w.keepMapValue(e, k, p+".value")
					continue
				}
				e[k] = w.hash(p+".value", "env-value", s)
			case k == "name":
				w.keepMapValue(e, k, p+".name")
			default:
				w.walk(x, p+"."+k)
			}
		}
	}
}

// headers hashes the values of probe and lifecycle HTTP headers
// (Authorization, X-Api-Key...).
func (w *walker) headers(v any, path string) {
	list, _ := v.([]any)
	for _, item := range list {
		h, ok := item.(map[string]any)
		if !ok {
			continue
		}
		name, _ := h["name"].(string)
		if s, ok := h["value"].(string); ok && s != "" {
			h["value"] = w.hash(path+"["+name+"].value", "http-header", s)
		}
	}
}

// args redacts a command line: a flag's name stays, its value is hashed
// unless a detector reads that flag and the value has the declared shape;
// a bare word is hashed unless it follows such a flag or is a declared
// word (a subcommand). A command's first element, the program, stays
// when it is a plain path. A single-dash flag written together with its
// value (-pVALUE) keeps only its first letter.
func (w *walker) args(list []any, path string, command bool) {
	pending := ""
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			continue
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		flag := pending
		pending = ""
		switch {
		case s == "":
		case isFlag(s):
			name, value, hasValue := strings.Cut(s, "=")
			if !strings.HasPrefix(name, "--") && len(name) > 2 {
				// -pX, -Xmx512m: a short flag with its value attached.
				list[i] = name[:2] + w.hash(p, "arg", name[2:]+value)
				continue
			}
			if !hasValue {
				pending = name
				w.keepListValue(list, i, p)
				continue
			}
			if value == "" || w.r.keep.flagValue(name, value) {
				w.keepListValue(list, i, p)
				continue
			}
			list[i] = name + "=" + w.hash(p, "arg", value)
		case flag != "" && w.r.keep.flagValue(flag, s):
			w.keepListValue(list, i, p)
		case w.r.keep.words[s] || command && i == 0 && plainProgram(s):
			w.keepListValue(list, i, p)
		default:
			list[i] = w.hash(p, "arg", s)
		}
	}
}

func isFlag(s string) bool {
	return len(s) > 1 && s[0] == '-' && !strings.ContainsAny(s, " \t\n") && s != "--"
}

// plainProgram reports whether s is a program path: /bin/sh, java, ./run.
func plainProgram(s string) bool {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("/._-", r)) {
			return false
		}
	}
	return s != ""
}

// configMap hashes every value of a ConfigMap but those a detector reads
// by key; binary values leave as the base64 of their hash.
func (w *walker) configMap(m map[string]any) {
	if data, ok := m["data"].(map[string]any); ok {
		for k, v := range data {
			s, _ := v.(string)
			p := "data[" + k + "]"
			if w.r.keep.configMapKeys[k] {
				w.keepMapValue(data, k, p)
				continue
			}
			if s != "" {
				data[k] = w.hash(p, "configmap-value", s)
			}
		}
	}
	if bin, ok := m["binaryData"].(map[string]any); ok {
		for k, v := range bin {
			s, _ := v.(string)
			bin[k] = base64.StdEncoding.EncodeToString([]byte(w.hash("binaryData["+k+"]", "configmap-binary", s)))
		}
	}
	for k, v := range m {
		if k != "data" && k != "binaryData" && k != "metadata" {
			w.walk(map[string]any{k: v}, "")
		}
	}
}

// custom redacts a custom resource: everything but its metadata and status
// is hashed, save the fields a detector declares for its kind.
func (w *walker) custom(m map[string]any) {
	for k, v := range m {
		switch k {
		case "apiVersion", "kind":
		case "metadata":
			md, _ := v.(map[string]any)
			w.metadata(md, "metadata", false)
		case "status":
			w.walk(v, "status")
		default:
			if s, ok := v.(string); ok {
				m[k] = w.customLeaf(k, s)
				continue
			}
			w.customTree(v, k)
		}
	}
}

func (w *walker) customLeaf(path, s string) string {
	if s == "" {
		return s
	}
	return w.hash(path, "custom-resource", s)
}

func (w *walker) customTree(v any, path string) {
	if w.r.keep.field(w.kind, path) {
		w.walk(v, path)
		return
	}
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			p := join(path, k)
			if s, ok := child.(string); ok {
				if w.r.keep.field(w.kind, p) {
					w.keepMapValue(t, k, p)
				} else {
					t[k] = w.customLeaf(p, s)
				}
				continue
			}
			w.customTree(child, p)
		}
	case []any:
		for i, child := range t {
			p := path + "[" + strconv.Itoa(i) + "]"
			if s, ok := child.(string); ok {
				t[i] = w.customLeaf(p, s)
				continue
			}
			w.customTree(child, p)
		}
	}
}

// scanKept scans everything the object keeps as it is, at once, and hashes
// each credential the scanner finds where it appears.
func (w *walker) scanKept() {
	if len(w.kept) == 0 {
		return
	}
	// One scan for the object; a NUL between values keeps a rule's \s+
	// from running from one value into the next.
	var text strings.Builder
	for _, l := range w.kept {
		text.WriteString(l.get())
		text.WriteString("\n\x00\n")
	}
	hits := w.r.scan.Find(text.String())
	if len(hits) == 0 {
		return
	}
	// Longer secrets first, so one inside another is replaced whole.
	sort.Slice(hits, func(i, j int) bool { return len(hits[i].Secret) > len(hits[j].Secret) })
	for _, h := range hits {
		// A secret is replaced in the values that hold the whole match (the
		// secret with the context the rule saw), so that a short one
		// ("auth: true") does not rewrite every "true" of the object.
		done := false
		for _, l := range w.kept {
			if v := l.get(); strings.Contains(v, h.Match) && strings.Contains(h.Match, h.Secret) {
				l.set(strings.ReplaceAll(v, h.Match, strings.ReplaceAll(h.Match, h.Secret, w.r.Hash(h.Secret))))
				w.r.rep.add(w.object, l.path, "scanner:"+h.Rule, "hashed")
				done = true
			}
		}
		if done || len(h.Secret) < 6 {
			continue
		}
		// The match ran across two values: replace the secret wherever it is.
		for _, l := range w.kept {
			if v := l.get(); strings.Contains(v, h.Secret) {
				l.set(strings.ReplaceAll(v, h.Secret, w.r.Hash(h.Secret)))
				w.r.rep.add(w.object, l.path, "scanner:"+h.Rule, "hashed")
			}
		}
	}
}

func stringMap(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, x := range m {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
