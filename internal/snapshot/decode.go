package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
)

// entry is one decoded object.
type entry struct {
	kind casebook.Kind
	obj  runtime.Object
	meta metav1.Object
}

// header is what is read of a document before it is decoded for real.
type header struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Items      []jsontext.Value `json:"items"`
}

// unmarshal decodes JSON with encoding/json/v2 semantics (the
// go-json-experiment module), which decodes Kubernetes objects to the same
// values as encoding/json in half the time: half of what a large snapshot
// costs. It tolerates what hand-edited files carry: duplicate keys (the last
// wins) and invalid UTF-8.
func unmarshal(data []byte, v any) error {
	return jsonv2.Unmarshal(data, v, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}

// decodeFile decodes every object in a YAML or JSON file: single objects,
// multi-document YAML, concatenated JSON, `kind: List` and typed lists
// (PodList) as kubectl and `kubectl cluster-info dump` write them. Any
// error rejects the whole file; notes are things worth saying about a file
// that otherwise loaded.
func decodeFile(data []byte, b *budget) (entries []entry, notes []string, err error) {
	docs, err := splitDocuments(data, b)
	if err != nil {
		return nil, nil, err
	}
	for i, doc := range docs {
		es, note, err := decodeDocument(doc, b)
		if err != nil {
			if errors.Is(err, ErrLimit) {
				return nil, nil, err
			}
			if len(docs) > 1 {
				return nil, nil, fmt.Errorf("document %d: %w", i+1, err)
			}
			return nil, nil, err
		}
		if note != "" {
			if len(docs) > 1 {
				note = fmt.Sprintf("document %d: %s", i+1, note)
			}
			notes = append(notes, note)
		}
		entries = append(entries, es...)
	}
	return entries, notes, nil
}

// splitDocuments returns each document of the file as JSON.
func splitDocuments(data []byte, b *budget) ([][]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '{' {
		// Most JSON files hold one object: hand it on whole instead of
		// scanning it once more to split it.
		if singleJSONValue(trimmed) {
			return [][]byte{trimmed}, nil
		}
		return splitJSON(trimmed)
	}
	if trimmed[0] == '[' {
		return splitJSON(trimmed)
	}
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReaderSize(bytes.NewReader(data), 64*1024))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if isBlankYAML(doc) {
			continue
		}
		j, err := yamlToJSON(doc, b)
		if errors.Is(err, ErrLimit) {
			return nil, err
		}
		if err != nil {
			if len(docs) > 0 {
				return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
			}
			return nil, err
		}
		if bytes.Equal(j, []byte("null")) {
			continue
		}
		docs = append(docs, j)
	}
	return docs, nil
}

// singleJSONValue reports whether data, which starts with '{', ends with
// the brace that closes it: a cheap check, from the end, that decodeDocument
// confirms (json.Unmarshal rejects anything after the first value).
func singleJSONValue(data []byte) bool {
	end := bytes.TrimRight(data, " \t\r\n")
	return len(end) > 0 && end[len(end)-1] == '}'
}

func splitJSON(data []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var docs [][]byte
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if raw[0] == '[' {
			// A JSON array of objects, as some tools write.
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return nil, err
			}
			for _, it := range items {
				docs = append(docs, it)
			}
			continue
		}
		docs = append(docs, raw)
	}
}

func isBlankYAML(doc []byte) bool {
	for _, ln := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(ln)
		if len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			return false
		}
	}
	return true
}

// decodeDocument decodes one JSON document: an object or a list of objects.
func decodeDocument(doc []byte, b *budget) ([]entry, string, error) {
	if len(doc) == 0 || doc[0] != '{' {
		return nil, "", errors.New("not an object")
	}
	var h header
	if err := unmarshal(doc, &h); err != nil {
		if strings.Contains(err.Error(), "after top-level value") {
			// Concatenated JSON objects that singleJSONValue let through.
			return decodeStream(doc, b)
		}
		return nil, "", err
	}
	if h.Kind == "" {
		return nil, "not a Kubernetes object (no kind), skipped", nil
	}
	if h.Kind == "List" || kube.ListKindOf(h.Kind) != "" && h.Items != nil {
		itemKind := kube.ListKindOf(h.Kind)
		out := make([]entry, 0, len(h.Items))
		for i, item := range h.Items {
			var ih header
			if itemKind != "" && kube.ForGroupKind(schema.FromAPIVersionAndKind(h.APIVersion, itemKind).GroupKind()) != nil {
				// A typed list of a built-in kind (cluster-info dump, a
				// client's List call): every item is of that kind, and
				// decoding it straight saves a pass over each item.
				ih.Kind, ih.APIVersion = itemKind, h.APIVersion
			} else if err := unmarshal(item, &ih); err != nil {
				return nil, "", fmt.Errorf("item %d: %w", i, err)
			}
			if ih.Kind == "" {
				// Typed lists (cluster-info dump) leave out each item's kind.
				ih.Kind, ih.APIVersion = itemKind, h.APIVersion
			}
			if ih.Kind == "" {
				return nil, "", fmt.Errorf("item %d: no kind", i)
			}
			e, err := decodeObject(item, ih.APIVersion, ih.Kind, b)
			if errors.Is(err, ErrLimit) {
				return nil, "", err
			}
			if err != nil {
				return nil, "", fmt.Errorf("item %d (%s): %w", i, ih.Kind, err)
			}
			out = append(out, e)
		}
		return out, "", nil
	}
	e, err := decodeObject(doc, h.APIVersion, h.Kind, b)
	if errors.Is(err, ErrLimit) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", h.Kind, err)
	}
	return []entry{e}, "", nil
}

// decodeStream decodes concatenated JSON documents.
func decodeStream(data []byte, b *budget) ([]entry, string, error) {
	docs, err := splitJSON(data)
	if err != nil {
		return nil, "", err
	}
	var out []entry
	var notes []string
	for _, d := range docs {
		es, note, err := decodeDocument(d, b)
		if err != nil {
			return nil, "", err
		}
		if note != "" {
			notes = append(notes, note)
		}
		out = append(out, es...)
	}
	return out, strings.Join(notes, "; "), nil
}

// decodeObject decodes one object: typed for built-in kinds, metadata only
// for Secrets, unstructured for everything else. The object is charged to
// b (when not nil) before it is decoded.
func decodeObject(data []byte, apiVersion, kind string, b *budget) (entry, error) {
	if apiVersion == "" {
		return entry{}, errors.New("no apiVersion")
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return entry{}, err
	}
	gvk := gv.WithKind(kind)
	if info := kube.ForGroupKind(gvk.GroupKind()); info != nil && info.GVK == gvk {
		if err := b.object(info.Kind, data); err != nil {
			return entry{}, err
		}
		obj := info.New()
		if err := unmarshal(data, obj); err != nil {
			return entry{}, err
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		if info.MetadataOnly {
			p := obj.(*metav1.PartialObjectMetadata)
			p, err = kube.MetadataOf(p, p.TypeMeta)
			if err != nil {
				return entry{}, err
			}
			obj = p
		}
		m := obj.(metav1.Object)
		return entry{kind: info.Kind, obj: obj, meta: m}, nil
	}
	if err := b.object(casebook.Kind(kind), data); err != nil {
		return entry{}, err
	}
	u := &unstructured.Unstructured{}
	// apimachinery's decoder keeps whole numbers int64, as unstructured
	// objects from an API server have them.
	if err := utiljson.Unmarshal(data, &u.Object); err != nil {
		return entry{}, err
	}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	k := kube.KindOf(gvk.GroupKind())
	if kube.Lookup(k) != nil {
		// A built-in kind in a version casebook does not read (extensions/v1beta1
		// Ingress): keep it, qualified with its version, so that it is not
		// mistaken for the typed kind.
		k = casebook.Kind(kind + "." + strings.ReplaceAll(gv.String(), "/", "."))
	}
	return entry{kind: k, obj: u, meta: u}, nil
}
