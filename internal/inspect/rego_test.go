package inspect

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
)

func checkTestPolicy(t *testing.T, opts RegoOptions, paths ...string) *RegoReport {
	t.Helper()
	r, err := CheckRego(paths, opts)
	if err != nil {
		t.Fatalf("check %v: %v", paths, err)
	}
	return r
}

// TestRegoBrokenAndFixed checks each policy in testdata/rego/broken, which
// reproduces a root cause of O-002 or O-004, and its counterpart in
// testdata/rego/fixed, written the way the case's solution says: the broken
// one is flagged with OPA's or Gatekeeper's own words, the fixed one is clean.
func TestRegoBrokenAndFixed(t *testing.T) {
	tests := []struct {
		file string
		want []string
		// evidence is text the first finding's evidence must quote.
		evidence string
	}{
		{"v1-in-v0-template.yaml", []string{"O-002/rego-v1-in-v0-template/major"},
			"v1-in-v0-template.yaml:24: rego_parse_error: unexpected : token"},
		{"v0-in-v1-template.yaml", []string{"O-002/rego-v0-in-v1-template/major"},
			"v0-in-v1-template.yaml:20: rego_parse_error: `if` keyword is required before rule body"},
		{"missing-violation.yaml", []string{"O-002/missing-violation/major"},
			"invalid ConstraintTemplate: invalid rego: invalid module: missing required rules: [violation]"},
		{"name-kind.yaml", []string{"O-002/template-name-kind/major"},
			`the ConstraintTemplate's name "required-labels" is not equal to the lowercase of CRD's Kind: "k8srequiredlabels"`},
		{"http-send.yaml", []string{"O-002/rego-compile-error/major"},
			"http-send.yaml:18: rego_type_error: undefined function http.send"},
		{"input-path.yaml", []string{"O-002/wrong-input-path/major"},
			"input-path.yaml:17: input.request.object.spec.containers[_]"},
		{"imports-libs.yaml", []string{"O-002/lib-package/major", "O-002/bad-import/major"},
			"imports-libs.yaml:28: path data.helpers.exempt not found in lib prefixes"},
		{"inventory-scan.yaml", []string{"O-004/inventory-scan/minor"},
			`inventory-scan.yaml:24: data.inventory.namespace[_][_].ServiceAccount[_]`},
		{"compile.rego", []string{"O-002/rego-compile-error/major"},
			"compile.rego:4: rego_type_error: conflicting rules data.policy.deny found"},
		{"v0-only.rego", []string{"O-002/rego-v0-only/minor"},
			"v0-only.rego:4: rego_parse_error: `if` keyword is required before rule body"},
		{"syntax.rego", []string{"O-002/rego-parse-error/major"}, "syntax.rego:5: rego_parse_error: unexpected eof token"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			broken := checkTestPolicy(t, RegoOptions{}, filepath.Join("testdata", "rego", "broken", tt.file))
			if got := causes(broken.Findings); !slices.Equal(got, tt.want) {
				t.Fatalf("broken: findings\n got  %q\n want %q", got, tt.want)
			}
			if ev := evidenceText(broken.Findings[0].Evidence); !strings.Contains(ev, tt.evidence) {
				t.Errorf("broken: evidence\n%s\nwant it to quote %q", ev, tt.evidence)
			}
			fixed := checkTestPolicy(t, RegoOptions{}, filepath.Join("testdata", "rego", "fixed", tt.file))
			if got := causes(fixed.Findings); len(got) != 0 {
				t.Errorf("fixed: findings %q, want none", got)
			}
		})
	}
}

func TestRegoDirectory(t *testing.T) {
	r := checkTestPolicy(t, RegoOptions{}, filepath.Join("testdata", "rego", "fixed"))
	if len(r.Files) != 3 || len(r.Templates) != 8 {
		t.Errorf("found %d files and %d templates, want 3 and 8", len(r.Files), len(r.Templates))
	}
	var v1 *TemplateInfo
	for i := range r.Templates {
		if strings.HasSuffix(r.Templates[i].File, "v1-in-v0-template.yaml") {
			v1 = &r.Templates[i]
		}
	}
	if v1 == nil || v1.Source != "code" || v1.Version != "v1" || v1.Package != "k8srequiredlabels" || v1.Target != GatekeeperTarget {
		t.Errorf("v1 template = %+v", v1)
	}
	if !hasNote(r.Notes, "O-002", "data.inventory") {
		t.Errorf("no data.inventory sync note: %+v", r.Notes)
	}
	if r.OPAVersion == "" {
		t.Error("no OPA version")
	}
}

func TestRegoVersionOption(t *testing.T) {
	v0 := filepath.Join("testdata", "rego", "broken", "v0-only.rego")
	v1 := filepath.Join("testdata", "rego", "fixed", "v0-only.rego")
	tests := []struct {
		name    string
		file    string
		version string
		want    []string
		parsed  string
	}{
		{"v0 file meant for v0", v0, "v0", []string{}, "v0"},
		{"v0 file meant for v1", v0, "v1", []string{"O-002/rego-version-mismatch/major"}, "v0"},
		{"v1 file meant for v1", v1, "v1", []string{}, "v1"},
		{"v1 file meant for v0", v1, "v0", []string{"O-002/rego-version-mismatch/major"}, "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checkTestPolicy(t, RegoOptions{Version: tt.version}, tt.file)
			if got := causes(r.Findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
			if r.Files[0].Version != tt.parsed {
				t.Errorf("parsed as %q, want %q", r.Files[0].Version, tt.parsed)
			}
		})
	}
	if _, err := CheckRego([]string{v0}, RegoOptions{Version: "v2"}); err == nil {
		t.Error("version v2 accepted")
	}
}

// TestRegoTemplateEdgeCases covers template shapes the fixtures do not.
func TestRegoTemplateEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
		note string
	}{
		{"not a template: skipped", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", nil, ""},
		{"CEL only", `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8scel}
spec:
  crd: {spec: {names: {kind: K8sCEL}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source: {validations: [{expression: "true"}]}
`, []string{}, "has no Rego (code engines: K8sNativeValidation)"},
		{"wrong target and no kind", `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: x}
spec:
  targets:
    - target: audit.example.com
      rego: "package x\nviolation[{\"msg\": \"m\"}] { true }"
`, []string{"O-002/template-no-kind/major", "O-002/template-target/major"}, ""},
		{"quoted rego positions", `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sq}
spec:
  crd: {spec: {names: {kind: K8sQ}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: "package k8sq\nviolation[{\"msg\": m}] { m := input.request.x }"
`, []string{"O-002/wrong-input-path/major"}, ""},
		{"data outside lib and inventory", `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sd}
spec:
  crd: {spec: {names: {kind: K8sD}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sd
        violation[{"msg": m}] {
          data.config.blocked[input.review.object.metadata.name]
          m := "blocked"
        }
`, []string{"O-002/disallowed-ref/major"}, ""},
		{"package differs from kind", `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sp}
spec:
  crd: {spec: {names: {kind: K8sP}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package policies.p
        violation[{"msg": "m"}] { input.review.object.spec.hostPID }
`, []string{}, "package policies.p is not the lowercase kind k8sp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := CheckRego([]string{path}, RegoOptions{})
			if tt.want == nil {
				if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "has no .rego files and no ConstraintTemplates") {
					t.Errorf("err = %v, want no policies found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := causes(r.Findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
			if tt.note != "" && !hasNoteText(r.Notes, tt.note) {
				t.Errorf("notes %+v, want %q", r.Notes, tt.note)
			}
			for _, f := range r.Findings {
				if f.Cause == "wrong-input-path" && !strings.Contains(f.Evidence[0].Text, "t.yaml:8 (Rego line 2): input.request.x") {
					t.Errorf("quoted scalar position: %q", f.Evidence[0].Text)
				}
			}
		})
	}
}

func hasNoteText(notes []Note, text string) bool {
	for _, n := range notes {
		if strings.Contains(n.Message, text) {
			return true
		}
	}
	return false
}

func TestRegoInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	good := filepath.Join("testdata", "rego", "fixed", "name-kind.yaml")
	if err := os.WriteFile(bad, []byte("kind: ConstraintTemplate\n  metadata: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A YAML file that does not parse is a warning; the others are checked.
	r, err := CheckRego([]string{bad, good}, RegoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || r.Warnings[0].Source != bad || len(r.Templates) != 1 {
		t.Errorf("warnings %+v, templates %d", r.Warnings, len(r.Templates))
	}
	// Only broken YAML: nothing to check is bad input, with the reason.
	_, err = CheckRego([]string{bad}, RegoOptions{})
	if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "did not parse") {
		t.Errorf("err = %v", err)
	}
	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "no such file or directory"},
		{filepath.Join("testdata", "wasm", "hello.wasm"), "is neither a .rego file nor YAML"},
		{filepath.Join("testdata", "wasm"), "has no .rego files and no ConstraintTemplates"},
	} {
		_, err := CheckRego([]string{tt.path}, RegoOptions{})
		if err == nil || !IsInputError(err) || !strings.HasPrefix(err.Error(), tt.path+": ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.path, err, tt.want)
		}
	}
}

func TestRegoHTTPSendNote(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fetch.rego")
	src := "package fetch\n\nresp := http.send({\"method\": \"get\", \"url\": \"https://example.com\"})\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := checkTestPolicy(t, RegoOptions{}, path)
	if len(r.Findings) != 0 || !hasNote(r.Notes, "O-002", "Gatekeeper disables it by default") {
		t.Errorf("findings %q, notes %+v", causes(r.Findings), r.Notes)
	}
}

func TestRegoExternalDataStandalone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "src.rego")
	src := "package k8strusted\n\nviolation contains {\"msg\": msg} if {\n\tresp := external_data({\"provider\": \"p\", \"keys\": [\"a\"]})\n\tcount(resp.errors) > 0\n\tmsg := \"untrusted\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := checkTestPolicy(t, RegoOptions{}, path)
	if len(r.Findings) != 0 || !hasNote(r.Notes, "O-002", "plain OPA (opa eval, opa test) does not know it") {
		t.Errorf("findings %q, notes %+v", causes(r.Findings), r.Notes)
	}
}

// TestCheckTemplateObject runs the template checks over a template read from
// a cluster: positions are rows inside the Rego, named by the label.
func TestCheckTemplateObject(t *testing.T) {
	tpl := func(rego string) map[string]any {
		return map[string]any{
			"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
			"metadata": map[string]any{"name": "k8sdemo", "generation": int64(1)},
			"spec": map[string]any{
				"crd":     map[string]any{"spec": map[string]any{"names": map[string]any{"kind": "K8sDemo"}}},
				"targets": []any{map[string]any{"target": GatekeeperTarget, "rego": rego}},
			},
			"status": map[string]any{"created": true},
		}
	}
	v1 := "package k8sdemo\n\nviolation contains {\"msg\": \"no\"} if {\n  input.review.object.metadata.name == \"x\"\n}\n"
	fs, _, err := CheckTemplateObject("constrainttemplate k8sdemo", tpl(v1))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Cause != "rego-v1-in-v0-template" || !strings.HasPrefix(fs[0].Evidence[0].Text, "constrainttemplate k8sdemo:3: rego_parse_error") {
		t.Errorf("v1 syntax in rego: %+v", fs)
	}
	noViolation := "package k8sdemo\n\ndeny[{\"msg\": \"no\"}] {\n  input.review.object.metadata.name == \"x\"\n}\n"
	if fs, _, _ := CheckTemplateObject("ct", tpl(noViolation)); len(fs) != 1 || fs[0].Cause != "missing-violation" {
		t.Errorf("no violation: %+v", fs)
	}
	v0 := "package k8sdemo\n\nviolation[{\"msg\": \"no\"}] {\n  input.review.object.metadata.name == \"x\"\n}\n"
	if fs, _, _ := CheckTemplateObject("ct", tpl(v0)); len(fs) != 0 {
		t.Errorf("healthy template: %+v", fs)
	}
}

func evidenceText(ev []casebook.Evidence) string {
	var lines []string
	for _, e := range ev {
		lines = append(lines, e.Text)
	}
	return strings.Join(lines, "\n")
}
