package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/rules"
)

// NewOptions are the inputs of `casebook new`.
type NewOptions struct {
	IO        *IOStreams
	Dir       string
	Component string
	Title     string
	TitleEN   string
	Severity  string
	Types     []string
	File      string
	// WithRule also scaffolds a detection rule beside the case and its
	// broken and fixed fixture folders.
	WithRule bool
}

// NewCmdNew builds `casebook new`.
func NewCmdNew(f *Factory, runF func(*NewOptions) error) *cobra.Command {
	opts := &NewOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "new --component C --title T --title-en E",
		Short: "Scaffold a new case from the template with the next free ID",
		Long: `Create a case file from cases/TEMPLATE.md in the library directory
(--cases, else ./cases), with the next free ID for the component and a file
name made from the English title. Then write it, run 'casebook lint' and
'casebook index'.`,
		Example: `  casebook new --component wasmedge --title "Wasm 插件加载失败" --title-en "Wasm plugin fails to load"`,
		Args:    exactArgs(0, "no arguments (use flags)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Dir = f.CasesDir
			if opts.Dir == "" {
				opts.Dir = "cases"
			}
			if runF != nil {
				return runF(opts)
			}
			return newRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Component, "component", "", "wasmedge, k3s, opa-gatekeeper, network or storage (required)")
	cmd.Flags().StringVar(&opts.Title, "title", "", "Chinese title (required)")
	cmd.Flags().StringVar(&opts.TitleEN, "title-en", "", "English title; also names the file (required unless --file)")
	cmd.Flags().StringVar(&opts.Severity, "severity", "major", "critical (严重), major (中等) or minor (轻微)")
	cmd.Flags().StringSliceVar(&opts.Types, "type", []string{"runtime-error"}, "fault types, comma-separated")
	cmd.Flags().StringVar(&opts.File, "file", "", "file name (default: made from --title-en)")
	cmd.Flags().BoolVar(&opts.WithRule, "with-rule", false, "also scaffold a detection rule (NAME.rego) and testdata/ID/{broken,fixed}/ (docs/rules.md)")
	_ = cmd.RegisterFlagCompletionFunc("component", fixedCompletions(casebook.Components))
	_ = cmd.RegisterFlagCompletionFunc("severity", fixedCompletions(casebook.Severities))
	_ = cmd.RegisterFlagCompletionFunc("type", fixedCompletions(casebook.FaultTypes))
	return cmd
}

var (
	nonSlug   = regexp.MustCompile(`[^a-z0-9]+`)
	plainYAML = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]*$`)
)

// slug makes a file name stem from an English title, prefixed with the
// component as the seed's file names are where it names one.
func slug(comp casebook.Component, titleEN string) string {
	s := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(titleEN), "-"), "-")
	for _, p := range []string{"wasmedge", "k3s"} {
		if string(comp) == p && !strings.HasPrefix(s, p+"-") {
			s = p + "-" + strings.TrimPrefix(s, "wasm-")
		}
	}
	return s
}

func newRun(opts *NewOptions) error {
	if opts.Component == "" || opts.Title == "" {
		return usageErrorf("new needs --component and --title")
	}
	comp, err := casebook.ParseComponent(opts.Component)
	if err != nil {
		return usageErrorf("--component: %v", err)
	}
	sev, err := casebook.ParseSeverity(opts.Severity)
	if err != nil {
		return usageErrorf("--severity: %v", err)
	}
	var types []string
	for _, t := range opts.Types {
		ft, err := casebook.ParseFaultType(t)
		if err != nil {
			return usageErrorf("--type: %v", err)
		}
		types = append(types, string(ft))
	}
	file := opts.File
	if file == "" {
		if opts.TitleEN == "" {
			return usageErrorf("new needs --title-en (or --file) to name the file")
		}
		file = slug(comp, opts.TitleEN) + ".md"
	}
	if !strings.HasSuffix(file, ".md") || strings.ContainsAny(file, `/\`) {
		return usageErrorf("--file %q: want a plain file name ending in .md", file)
	}
	if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
		return usageErrorf("case directory %q not found (run from the repository root or pass --cases DIR)", opts.Dir)
	}
	lib, err := caseload.Load(os.DirFS(opts.Dir), opts.Dir+"/")
	if err != nil {
		return err
	}
	tmpl, err := fs.ReadFile(os.DirFS(opts.Dir), caseload.TemplateFile)
	if errors.Is(err, fs.ErrNotExist) {
		tmpl, err = fs.ReadFile(cases.FS(), caseload.TemplateFile)
	}
	if err != nil {
		return fmt.Errorf("read case template: %w", err)
	}
	id := lib.NextID(comp)
	if team, ok := teamID(lib, comp); ok {
		id = team
	}
	titleEN := opts.TitleEN
	if titleEN == "" {
		titleEN = strings.TrimSuffix(file, ".md")
	}
	content := scaffold(string(tmpl), map[string]string{
		"id": id, "title": opts.Title, "title_en": titleEN, "component": string(comp),
		"severity": string(sev), "types": "[" + strings.Join(types, ", ") + "]",
	})
	target := filepath.Join(opts.Dir, file)
	fh, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return usageErrorf("%s already exists", target)
		}
		return fmt.Errorf("create %s: %w", target, err)
	}
	if _, err := fh.WriteString(content); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", target, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	fmt.Fprintln(opts.IO.Out, target)
	if opts.WithRule {
		if err := scaffoldRule(opts, id, file); err != nil {
			return err
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "created %s as %s; write it, then run 'casebook lint' and 'casebook index'\n", target, id)
	return nil
}

// teamID returns the next free ID from 901 up when lib is a team's
// library (it holds none of the embedded library's cases): --cases DIR
// diagnoses with the built-in detectors too, and a team case numbered like
// a built-in one would take its place in the report.
func teamID(lib *caseload.Library, comp casebook.Component) (string, bool) {
	builtin, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		return "", false
	}
	for _, c := range lib.Cases {
		if _, ok := builtin.Get(c.ID); ok {
			return "", false
		}
	}
	for n := 901; n <= 999; n++ {
		id := fmt.Sprintf("%s-%03d", comp.Prefix(), n)
		_, inTeam := lib.Get(id)
		_, inBuiltin := builtin.Get(id)
		if !inTeam && !inBuiltin {
			return id, true
		}
	}
	return "", false
}

// scaffoldRule writes the rule of a new case and its fixture folders, each
// with an expect.txt; the rule fires on nothing yet, so casebook test fails
// until the case's check and its broken fixture are written.
func scaffoldRule(opts *NewOptions, id, caseFile string) error {
	stem := strings.TrimSuffix(caseFile, ".md")
	files := map[string]string{
		stem + rules.Ext: rules.Template(id, caseFile),
		filepath.Join(rules.Fixtures, id, "broken", "expect.txt"): "# Findings this fixture must produce, one per object: CASE CAUSE KIND NAMESPACE/NAME.\n# Put the cluster's YAML beside this file (kubectl get ... -o yaml, or casebook collect).\n" + id + " replace-me Pod NAMESPACE/NAME\n",
		filepath.Join(rules.Fixtures, id, "fixed", "expect.txt"):  "# The same cluster after the case's solution: the rule must not fire.\n",
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		target := filepath.Join(opts.Dir, n)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		fh, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return usageErrorf("%s already exists", target)
			}
			return fmt.Errorf("create %s: %w", target, err)
		}
		_, err = fh.WriteString(files[n])
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", target, err)
		}
		fmt.Fprintln(opts.IO.Out, target)
	}
	return nil
}

// scaffold fills the template's front matter: keys in values get their new
// value; the template's example signals are dropped.
func scaffold(tmpl string, values map[string]string) string {
	lines := strings.Split(tmpl, "\n")
	var out []string
	inFront, skipList := false, false
	for i, ln := range lines {
		if ln == "---" {
			if i == 0 {
				inFront = true
			} else if inFront {
				inFront = false
			}
			out = append(out, ln)
			continue
		}
		if !inFront {
			out = append(out, ln)
			continue
		}
		if skipList {
			if strings.HasPrefix(ln, "  ") {
				continue
			}
			skipList = false
		}
		key, _, ok := strings.Cut(ln, ":")
		if !ok || strings.HasPrefix(ln, " ") {
			out = append(out, ln)
			continue
		}
		switch {
		case key == "signals":
			out = append(out, "signals: []  # verbatim error text: 'literal' or {re: 'regexp'}")
			skipList = true
		case values[key] != "":
			out = append(out, key+": "+yamlScalar(values[key]))
		default:
			out = append(out, ln)
		}
	}
	return strings.Join(out, "\n")
}

// yamlScalar quotes a value unless it is a flow list or a plain word.
func yamlScalar(v string) string {
	if strings.HasPrefix(v, "[") || plainYAML.MatchString(v) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
