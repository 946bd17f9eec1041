package cli

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/casebook-dev/casebook/internal/caseload"
)

// IndexOptions are the inputs of `casebook index`.
type IndexOptions struct {
	IO       *IOStreams
	Dir      string
	Check    bool
	Detected func() []string
}

// NewCmdIndex builds `casebook index [--check]`.
func NewCmdIndex(f *Factory, runF func(*IndexOptions) error) *cobra.Command {
	opts := &IndexOptions{IO: f.IO, Detected: f.DetectedCases}
	cmd := &cobra.Command{
		Use:   "index [DIR]",
		Short: "Regenerate the case index (cases/README.md) in the seed's structure",
		Long: `Regenerate DIR/README.md (default: --cases, else ./cases) from the case files:
the seed's overview, classification and per-component tables with each case's
computed status, plus views by severity and by fault type. With --check,
write nothing and exit 1 when the checked-in file is stale.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("index takes at most one directory")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = f.CasesDir
			if len(args) == 1 {
				opts.Dir = args[0]
			}
			if opts.Dir == "" {
				opts.Dir = "cases"
			}
			if runF != nil {
				return runF(opts)
			}
			return indexRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "exit 1 if the index is stale instead of writing it")
	return cmd
}

func indexRun(opts *IndexOptions) error {
	if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
		return usageErrorf("case directory %q not found (run from the repository root or pass DIR)", opts.Dir)
	}
	fsys := os.DirFS(opts.Dir)
	lib, err := caseload.Load(fsys, filepath.ToSlash(opts.Dir)+"/")
	if err != nil {
		return err
	}
	for _, p := range lib.Problems {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", p.Error())
	}
	if opts.Detected != nil {
		lib.MarkDetected(opts.Detected())
	}
	want, err := caseload.RenderIndex(lib)
	if err != nil {
		return err
	}
	target := filepath.Join(opts.Dir, caseload.IndexFile)
	if opts.Check {
		have, err := fs.ReadFile(fsys, caseload.IndexFile)
		if err != nil || !bytes.Equal(have, want) {
			fmt.Fprintf(opts.IO.ErrOut, "%s is stale: run 'casebook index' and commit the result\n", target)
			return silentExit(ExitError)
		}
		fmt.Fprintf(opts.IO.ErrOut, "%s is up to date (%d cases)\n", target, len(lib.Cases))
		return nil
	}
	if err := os.WriteFile(target, want, 0o644); err != nil {
		return fmt.Errorf("write index %s: %w", target, err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %s (%d cases)\n", target, len(lib.Cases))
	return nil
}
