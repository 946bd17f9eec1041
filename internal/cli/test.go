package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/rules"
)

// TestOptions are the inputs of `casebook test`.
type TestOptions struct {
	IO *IOStreams
	// Dir is the case library whose rules are tested.
	Dir string
	// Verbose lists the fixtures that passed too.
	Verbose bool
}

// NewCmdTest builds `casebook test [DIR]`.
func NewCmdTest(f *Factory, runF func(*TestOptions) error) *cobra.Command {
	opts := &TestOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run every case's detection rule over its broken and fixed fixtures",
		Long: `Test the detection rules of a case library the way opa test or gator verify
test policies: each case's rule (foo.rego beside foo.md) runs, through the
diagnose engine, over the snapshots in DIR/testdata/<ID>/broken*/ — where it
must fire, with exactly the findings of its case expect.txt lists when there
is one — and DIR/testdata/<ID>/fixed*/, where it must stay silent.

DIR defaults to --cases, else ./cases. Failures print as
"FILE: did not fire on broken/" or "FILE: rule fired on fixed/: ..." and the
command exits 1; a rule that does not compile is reported at FILE:LINE.`,
		Example: `  casebook test examples/team-cases`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("test takes at most one directory")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1:
				opts.Dir = args[0]
			case f.CasesDir != "":
				opts.Dir = f.CasesDir
			default:
				opts.Dir = "cases"
			}
			if runF != nil {
				return runF(opts)
			}
			return testRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "list the fixtures that pass too")
	return cmd
}

func testRun(ctx context.Context, opts *TestOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
		return usageErrorf("case library %s: not a directory", opts.Dir)
	}
	prefix := filepath.ToSlash(filepath.Clean(opts.Dir)) + "/"
	lib, err := caseload.Load(os.DirFS(opts.Dir), prefix)
	if err != nil {
		return usageErrorf("%v", err)
	}
	for _, p := range lib.Problems {
		fmt.Fprintln(opts.IO.ErrOut, p.Error())
	}
	rs, problems := rules.Load(ctx, os.DirFS(opts.Dir), prefix, lib.Cases)
	failed := len(problems)
	for _, p := range problems {
		fmt.Fprintln(opts.IO.Out, p.Error())
	}
	if len(rs) == 0 && failed == 0 {
		return usageErrorf("%s: no case has a rule (foo.rego beside foo.md)", opts.Dir)
	}
	caseFile := func(id string) string {
		if c, ok := lib.Get(id); ok {
			return prefix + c.File
		}
		return id
	}
	outcomes := rules.Verify(ctx, opts.Dir, prefix, rs, caseFile)
	if ctx.Err() != nil {
		return interruptedOr(ctx, ctx.Err())
	}
	passed := 0
	for _, o := range outcomes {
		if o.Passed() {
			passed++
			if opts.Verbose {
				fmt.Fprintln(opts.IO.Out, o)
			}
			continue
		}
		failed++
		fmt.Fprintln(opts.IO.Out, o)
	}
	fmt.Fprintf(opts.IO.ErrOut, "%d rules: %d fixtures passed, %d failures\n", len(rs), passed, failed)
	if failed > 0 {
		return silentExit(ExitError)
	}
	return nil
}
