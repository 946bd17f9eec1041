// Package cli is the casebook command line: one file per command, each an
// Options struct, a NewCmdX constructor and an xRun function that does the
// work through injected streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/progress"
)

// Factory carries what commands share: the streams, the version and a lazy
// loader of the case library.
type Factory struct {
	IO *IOStreams
	// Version, Commit and Date are stamped at build time (scripts/release);
	// Version falls back to the module version, the others may be empty.
	Version string
	Commit  string
	Date    string
	// Program is the name the binary was run under (the base of argv[0]):
	// kubectl-casebook makes help read "kubectl casebook ...", and
	// kubectl_complete-casebook answers kubectl's plugin completion.
	Program string
	// Quiet turns off progress on standard error (--quiet).
	Quiet bool
	// CasesDir is the library directory from --cases or CASEBOOK_CASES;
	// empty means the embedded library.
	CasesDir string
	// DetectedCases lists the IDs that have a detector, for the index.
	DetectedCases func() []string

	once sync.Once
	lib  *caseload.Library
	err  error
}

// CasesFS returns the library's file system and the prefix its problems
// are reported with.
func (f *Factory) CasesFS() (fs.FS, string) {
	if f.CasesDir != "" {
		return os.DirFS(f.CasesDir), filepath.ToSlash(filepath.Clean(f.CasesDir)) + "/"
	}
	return cases.FS(), "cases/"
}

// Library loads the case library once. Files that do not load are reported
// on ErrOut as warnings; the rest of the library is returned.
func (f *Factory) Library() (*caseload.Library, error) {
	f.once.Do(func() {
		fsys, prefix := f.CasesFS()
		f.lib, f.err = caseload.Load(fsys, prefix)
		if f.err != nil {
			return
		}
		for _, p := range f.lib.Problems {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.Style(styleYellow, "warning:"), p.Error())
		}
		if f.DetectedCases != nil {
			f.lib.MarkDetected(f.DetectedCases())
		}
	})
	return f.lib, f.err
}

// progress returns a display of live work's progress on standard error,
// or nil when standard error is not a terminal or --quiet is given.
func (f *Factory) progress(what string, kinds, detectors int) progress.Observer {
	if f.Quiet || !f.IO.ErrIsTTY {
		return nil
	}
	return progress.NewTerminal(f.IO.ErrOut, what, kinds, detectors)
}

// NewRootCmd builds the casebook command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "casebook",
		Short: "A troubleshooting casebook for edge clusters that finds its own cases",
		Long: `casebook is the troubleshooting casebook (故障排查案例集) for K3s, WasmEdge,
OPA/Gatekeeper, cluster networking and storage, as software: browse and search
the cases, match a pasted error to its case, and find known cases in a live
cluster or an offline snapshot.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if f.CasesDir == "" {
				f.CasesDir = os.Getenv("CASEBOOK_CASES")
			}
			return nil
		},
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.PersistentFlags().StringVar(&f.CasesDir, "cases", "", "read the case library from `DIR` instead of the embedded one (or set CASEBOOK_CASES)")
	root.PersistentFlags().BoolVarP(&f.Quiet, "quiet", "q", false, "show no progress on standard error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{Code: ExitUsage, Err: err} })

	root.AddCommand(
		NewCmdList(f, nil),
		NewCmdShow(f, nil),
		NewCmdSearch(f, nil),
		NewCmdMatch(f, nil),
		NewCmdDiagnose(f, nil),
		NewCmdCollect(f, nil),
		NewCmdInspect(f, nil),
		NewCmdCheck(f, nil),
		NewCmdNew(f, nil),
		NewCmdLint(f, nil),
		NewCmdIndex(f, nil),
		NewCmdServe(f, nil),
		NewCmdAgent(f, nil),
		NewCmdReproduce(f, nil),
		NewCmdVersion(f),
	)
	addCompletions(root)
	if isPlugin(f.Program) {
		asPlugin(root)
	}
	return root
}

// Run runs casebook with args and returns the process exit code.
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	if isPluginCompletion(f.Program) {
		args = append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	if code == ExitError && isCobraUsageError(err) {
		code = ExitUsage
	}
	var e *exitError
	if !errors.As(err, &e) || e.Err != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s %v\n", f.IO.Style(styleRed, "error:"), err)
	}
	return code
}

// isCobraUsageError recognises the errors cobra itself returns for a call
// it could not parse.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a usage exit code and a clearer message.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %s (got %d arguments); see '%s --help'", cmd.CommandPath(), what, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// outputFlag validates an -o value against the allowed formats.
func outputFlag(value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return usageErrorf("unknown output format %q (want %s)", value, strings.Join(allowed, ", "))
}
