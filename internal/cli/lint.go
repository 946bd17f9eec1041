package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/rules"
)

// LintOptions are the inputs of `casebook lint`.
type LintOptions struct {
	IO *IOStreams
	// FS and Prefix locate the library to check.
	FS     fs.FS
	Prefix string
}

// NewCmdLint builds `casebook lint [DIR]`.
func NewCmdLint(f *Factory, runF func(*LintOptions) error) *cobra.Command {
	opts := &LintOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Check case files: front matter, vocabularies, IDs, sections, links, code blocks",
		Long: `Check the case files in DIR (default: --cases, else ./cases when it exists,
else the embedded library). Problems print as FILE:LINE: message. Exits 2 when
there are errors; warnings alone exit 0.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("lint takes at most one directory")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			opts.FS, opts.Prefix = libraryDir(f, dir)
			if runF != nil {
				return runF(opts)
			}
			return lintRun(cmd.Context(), opts)
		},
	}
	return cmd
}

// libraryDir picks the library a maintenance command works on: DIR, then
// --cases/CASEBOOK_CASES, then ./cases in a checkout, then the embedded one.
func libraryDir(f *Factory, dir string) (fs.FS, string) {
	if dir == "" {
		dir = f.CasesDir
	}
	if dir == "" {
		if st, err := os.Stat(filepath.Join("cases", caseload.TemplateFile)); err == nil && !st.IsDir() {
			dir = "cases"
		}
	}
	if dir == "" {
		return f.CasesFS()
	}
	return os.DirFS(dir), filepath.ToSlash(filepath.Clean(dir)) + "/"
}

func lintRun(ctx context.Context, opts *LintOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if _, err := fs.Stat(opts.FS, "."); err != nil {
		return usageErrorf("case library %s: %v", opts.Prefix, err)
	}
	type linted struct {
		problems []caseload.Problem
		lib      *caseload.Library
	}
	res, err := untilDone(ctx, func() (linted, error) {
		problems, lib, err := caseload.LintContext(ctx, opts.FS, opts.Prefix)
		return linted{problems, lib}, err
	})
	if err != nil {
		return interruptedOr(ctx, usageErrorf("%v", err))
	}
	problems, lib := res.problems, res.lib
	problems = append(problems, lintRules(ctx, opts.FS, opts.Prefix, lib)...)
	errs, warns := 0, 0
	for _, p := range problems {
		fmt.Fprintln(opts.IO.Out, p.Error())
		if p.Warning {
			warns++
		} else {
			errs++
		}
	}
	complete := 0
	for _, c := range lib.Cases {
		if c.Status == casebook.StatusComplete {
			complete++
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "%d cases (%d complete), %d errors, %d warnings\n", len(lib.Cases), complete, errs, warns)
	if errs > 0 {
		return silentExit(ExitUsage)
	}
	return nil
}

// lintRules compiles every case's detection rule with OPA's compiler and
// the capabilities rules run with; errors are at the rule's file and line.
// A rule file with no case beside it is a warning: nothing would run it.
func lintRules(ctx context.Context, fsys fs.FS, prefix string, lib *caseload.Library) []caseload.Problem {
	_, problems := rules.Load(ctx, fsys, prefix, lib.Cases)
	have := map[string]bool{}
	for _, c := range lib.Cases {
		have[strings.TrimSuffix(c.File, path.Ext(c.File))+rules.Ext] = true
	}
	entries, _ := fs.ReadDir(fsys, ".")
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), rules.Ext) && !have[e.Name()] {
			problems = append(problems, caseload.Problem{File: prefix + e.Name(), Line: 1, Warning: true,
				Message: "rule has no case beside it (want " + strings.TrimSuffix(e.Name(), rules.Ext) + ".md): it never runs"})
		}
	}
	return problems
}
