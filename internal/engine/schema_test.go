package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/report"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestReportGoldenAndSchema pins the whole report of the root-cause
// fixture and the example cluster to golden files, and checks both against
// the JSON Schema in docs/.
func TestReportGoldenAndSchema(t *testing.T) {
	raw, err := os.ReadFile("../../docs/diagnose-report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("docs/diagnose-report.schema.json: %v", err)
	}
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"root-cause": "testdata/root-cause", "edge-cluster": "../../examples/edge-cluster"} {
		t.Run(name, func(t *testing.T) {
			snap, err := snapshot.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			r, err := engine.Diagnose(context.Background(), snap, detectors.Set(lib.Cases),
				engine.Diagnosis{Source: "snapshot " + name, Now: func() time.Time { return time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC) }},
				engine.Options{Case: lib.Get})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := report.JSON(&b, r); err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			for _, e := range validate(schema, schema, doc, "$") {
				t.Errorf("schema: %s", e)
			}
			// The check can fail: a finding without message_zh and with a
			// field the schema does not know is two errors.
			f := doc.(map[string]any)["findings"].([]any)[0].(map[string]any)
			delete(f, "message_zh")
			f["extra"] = true
			if errs := validate(schema, schema, doc, "$"); len(errs) != 2 {
				t.Errorf("a broken report gives %d schema errors, want 2: %v", len(errs), errs)
			}
			golden := "testdata/" + name + ".report.golden.json"
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/engine -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("report differs from %s (go test ./internal/engine -update to accept):\n%s", golden, b.String())
			}
		})
	}
}

// validate checks doc against the subset of JSON Schema the report's schema
// uses: type, const, enum, pattern, minimum, required, properties,
// additionalProperties, items and local $ref.
func validate(root, s map[string]any, doc any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		def, ok := root["$defs"].(map[string]any)[name].(map[string]any)
		if !ok {
			return []string{path + ": unknown $ref " + ref}
		}
		return validate(root, def, doc, path)
	}
	var errs []string
	if c, ok := s["const"]; ok && c != doc {
		errs = append(errs, fmt.Sprintf("%s: %v, want %v", path, doc, c))
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == doc
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s: %v not in %v", path, doc, enum))
		}
	}
	switch s["type"] {
	case "object":
		m, ok := doc.(map[string]any)
		if !ok {
			return append(errs, path+": not an object")
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: missing %s", path, r))
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := props[k].(map[string]any); ok {
				errs = append(errs, validate(root, p, m[k], path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: property %s is not in the schema", path, k))
				}
			case map[string]any:
				errs = append(errs, validate(root, ap, m[k], path+"."+k)...)
			}
		}
	case "array":
		a, ok := doc.([]any)
		if !ok {
			return append(errs, path+": not an array")
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range a {
				errs = append(errs, validate(root, items, it, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case "string":
		str, ok := doc.(string)
		if !ok {
			return append(errs, path+": not a string")
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", path, str, p))
		}
	case "integer":
		n, ok := doc.(float64)
		if !ok || n != float64(int64(n)) {
			return append(errs, path+": not an integer")
		}
		if min, ok := s["minimum"].(float64); ok && n < min {
			errs = append(errs, fmt.Sprintf("%s: %v < %v", path, n, min))
		}
	}
	return errs
}
