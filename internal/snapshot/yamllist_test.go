package snapshot

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var av, bv any
	if err := json.Unmarshal(a, &av); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &bv); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(av, bv)
}

// TestYAMLListConvertsLikeTheWhole: converting a List an item at a time
// gives what converting it whole gives, for every fixture and the shapes
// that could trip the split.
func TestYAMLListConvertsLikeTheWhole(t *testing.T) {
	docs := map[string]string{
		"indented items":  "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: a}\n  - apiVersion: v1\n    kind: Pod\n    metadata:\n      name: b\n",
		"keys after":      "apiVersion: v1\nitems:\n- kind: Pod\n  apiVersion: v1\n  metadata: {name: a}\n# a comment\n\n- kind: Pod\n  apiVersion: v1\n  metadata: {name: b}\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
		"block scalars":   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data:\n    script: |\n      #!/bin/sh\n      - not an item\n\n      echo done\n    folded: >-\n      one\n      two\n",
		"dash alone":      "apiVersion: v1\nkind: List\nitems:\n-\n  apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n-   apiVersion: v1\n    kind: Pod\n    metadata: {name: b}\n",
		"alias across":    "apiVersion: v1\nkind: List\nitems:\n- &pod\n  apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- *pod\n",
		"flow items":      "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: a}}]\n",
		"empty items":     "apiVersion: v1\nkind: List\nitems: []\n",
		"nested sequence": "apiVersion: v1\nkind: List\nitems:\n- - a\n  - b\n",
	}
	for _, root := range []string{"../detectors/testdata", "../../examples"} {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				b, _ := os.ReadFile(p)
				docs[p] = string(b)
			}
			return nil
		})
	}
	split := 0
	for name, file := range docs {
		r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(file)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if err != nil {
				break
			}
			if isBlankYAML(doc) {
				continue
			}
			want, werr := yaml.YAMLToJSON(doc)
			got, gerr := yamlToJSON(doc, nil)
			if (werr != nil) != (gerr != nil) {
				t.Errorf("%s doc %d: error %v, whole %v", name, i, gerr, werr)
				continue
			}
			if werr == nil && !sameJSON(t, got, want) {
				t.Errorf("%s doc %d:\n got %s\nwant %s", name, i, got, want)
			}
			if _, _, ok := splitYAMLList(doc); ok {
				split++
			}
		}
	}
	t.Logf("%d documents, %d split as lists", len(docs), split)
}

// TestYAMLListMemory: a 12 MiB List of labelled Pods took 650 MiB to
// convert whole; an item at a time it holds a fraction of that.
func TestYAMLListMemory(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p-%d\n    namespace: shop\n    labels:\n", i)
		for l := range 40 {
			fmt.Fprintf(&b, "      l%d: v\n", l)
		}
	}
	data := []byte(b.String())
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var p uint64
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			p = max(p, ms.HeapInuse)
			select {
			case <-stop:
				peak <- p
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	es, _, err := decodeFile(data, newBudget(context.Background(), Limits{}))
	close(stop)
	p := <-peak - base.HeapInuse
	if err != nil || len(es) != 20000 {
		t.Fatalf("%d objects, %v", len(es), err)
	}
	t.Logf("%d KiB of YAML: peak heap +%d MiB", len(data)>>10, p>>20)
	if p > 300<<20 {
		t.Errorf("decoding took %d MiB at its peak", p>>20)
	}
}
