package rules_test

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/rules"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// TestInputMatchesSchema builds the whole input document of the example
// cluster (every kind, every relation) and checks it against
// docs/rules.schema.json: its version, the kinds it may hold and the exact
// keys of each relation's entries.
func TestInputMatchesSchema(t *testing.T) {
	raw, err := os.ReadFile("../../docs/rules.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("docs/rules.schema.json: %v", err)
	}
	var input struct {
		Properties struct {
			APIVersion struct{ Const string } `json:"apiVersion"`
			Objects    struct {
				PropertyNames struct{ Enum []string } `json:"propertyNames"`
			}
			Relations struct {
				Properties map[string]struct {
					AdditionalProperties struct{ Required []string } `json:"additionalProperties"`
				}
			}
		}
	}
	if err := json.Unmarshal(schema.Defs["input"], &input); err != nil {
		t.Fatal(err)
	}
	var event struct{ Required []string }
	if err := json.Unmarshal(schema.Defs["event"], &event); err != nil {
		t.Fatal(err)
	}
	if input.Properties.APIVersion.Const != rules.InputVersion {
		t.Errorf("schema version %q, code %q", input.Properties.APIVersion.Const, rules.InputVersion)
	}
	var kinds []string
	for _, k := range rules.InputKinds {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	if strings.Join(kinds, ",") != strings.Join(input.Properties.Objects.PropertyNames.Enum, ",") {
		t.Errorf("kinds in the code %v, in the schema %v", kinds, input.Properties.Objects.PropertyNames.Enum)
	}

	snap, err := snapshot.Load("../../examples/edge-cluster")
	if err != nil {
		t.Fatal(err)
	}
	in := rules.BuildInput(cluster.New(context.Background(), snap), rules.InputKinds, []string{"claims", "events", "nodes", "services"})
	for _, e := range in.Errors {
		t.Errorf("input: %v", e)
	}
	doc, err := ast.JSON(in.Value)
	if err != nil {
		t.Fatal(err)
	}
	m := doc.(map[string]any)
	rels := m["relations"].(map[string]any)
	if len(rels) != len(input.Properties.Relations.Properties) {
		t.Errorf("relations %d, schema %d", len(rels), len(input.Properties.Relations.Properties))
	}
	keys := func(v any) string {
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	sorted := func(s []string) string { s = append([]string(nil), s...); sort.Strings(s); return strings.Join(s, ",") }
	for name, entries := range rels {
		for key, v := range entries.(map[string]any) {
			if name == "events" {
				for _, e := range v.([]any) {
					if got := keys(e); got != sorted(event.Required) {
						t.Fatalf("event of %s has keys %s, schema %v", key, got, event.Required)
					}
				}
				continue
			}
			want := input.Properties.Relations.Properties[name].AdditionalProperties.Required
			if got := keys(v); got != sorted(want) {
				t.Fatalf("relations.%s[%s] has keys %s, schema %v", name, key, got, want)
			}
		}
	}
	for _, s := range m["objects"].(map[string]any)[string(casebook.KindSecret)].(map[string]any) {
		if got := keys(s); got != "kind,metadata" {
			t.Errorf("a Secret carries %s, want its kind and metadata only", got)
		}
	}
}
