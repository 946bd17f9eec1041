package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/casebook-dev/casebook/internal/kube"
)

// Writer writes a snapshot bundle: a .tar.gz with one `kind: List` YAML
// file per kind and namespace (cluster/nodes.yaml,
// namespaces/shop/pods.yaml), every object redacted first. Load reads it
// back.
type Writer struct {
	red   Redactor
	gz    *gzip.Writer
	tw    *tar.Writer
	mtime time.Time
	files int
}

// ReportFile is the name of the redaction report collect writes into a
// bundle; Load skips it.
const ReportFile = "redaction-report.json"

// Redactor makes an object safe to write: internal/redact's, for collect.
type Redactor interface {
	Object(kind string, obj runtime.Object) (map[string]any, error)
}

// NewWriter starts a bundle on w, every object through red. mtime stamps
// its files.
func NewWriter(w io.Writer, mtime time.Time, red Redactor) *Writer {
	gz := gzip.NewWriter(w)
	return &Writer{red: red, gz: gz, tw: tar.NewWriter(gz), mtime: mtime}
}

// Add writes the objects of one built-in kind, redacted, one file per namespace.
func (w *Writer) Add(info *kube.Info, objs []runtime.Object) error {
	byNS := map[string][]runtime.Object{}
	for _, o := range objs {
		m, ok := o.(metav1.Object)
		if !ok {
			return fmt.Errorf("%s: not an object: %T", info.Kind, o)
		}
		byNS[m.GetNamespace()] = append(byNS[m.GetNamespace()], o)
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		items := make([]any, 0, len(byNS[ns]))
		for _, o := range byNS[ns] {
			o.GetObjectKind().SetGroupVersionKind(info.GVK)
			m, err := w.red.Object(string(info.Kind), o)
			if err != nil {
				return fmt.Errorf("redact %s: %w", info.Kind, err)
			}
			m["apiVersion"], m["kind"] = info.GVK.GroupVersion().String(), info.GVK.Kind
			items = append(items, m)
		}
		name := path.Join("cluster", info.Resource+".yaml")
		if ns != "" {
			name = path.Join("namespaces", ns, info.Resource+".yaml")
		}
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
		data, err := yaml.Marshal(list)
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		if err := w.File(name, data); err != nil {
			return err
		}
	}
	return nil
}

// File writes one file into the bundle as it is.
func (w *Writer) File(name string, data []byte) error {
	h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: w.mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	w.files++
	return nil
}

// Files returns how many files were written.
func (w *Writer) Files() int { return w.files }

// Close finishes the bundle.
func (w *Writer) Close() error {
	if err := w.tw.Close(); err != nil {
		return err
	}
	return w.gz.Close()
}
