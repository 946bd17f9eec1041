package cli

import (
	"context"
	"github.com/spf13/cobra"
	"io"

	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/inspect"
	"github.com/casebook-dev/casebook/internal/report"
)

// CheckRegoOptions are the inputs of `casebook check rego`.
type CheckRegoOptions struct {
	IO      *IOStreams
	Library func() (*caseload.Library, error)

	Paths       []string
	Output      string
	FailOn      string
	RegoVersion string
}

// NewCmdCheck builds `casebook check`, the parent of the policy checks;
// runF replaces the run of `check rego` in tests.
func NewCmdCheck(f *Factory, runF func(*CheckRegoOptions) error) *cobra.Command {
	return parentCmd("check", "Check Rego policies and Gatekeeper ConstraintTemplates before they ship",
		"a policy language", NewCmdCheckRego(f, runF))
}

// NewCmdCheckRego builds `casebook check rego PATH...`.
func NewCmdCheckRego(f *Factory, runF func(*CheckRegoOptions) error) *cobra.Command {
	opts := &CheckRegoOptions{IO: f.IO, Library: f.Library}
	cmd := &cobra.Command{
		Use:   "rego PATH...",
		Short: "Check .rego files and ConstraintTemplate YAML with the OPA library, as OPA and Gatekeeper read them",
		Long: `Parse and compile Rego with the OPA library (v1) and report what OPA 1.x
and Gatekeeper would reject, with OPA's own error text and the file line.
PATH is a .rego file, a YAML file of ConstraintTemplates (other documents
in it are skipped), or a directory, walked for both.

Standalone .rego files: parse errors; whether a file is Rego v0 only (OPA
1.x rejects it without --v0-compatible) or, with --rego-version, written for
the wrong version; compile errors (type and safety errors, conflicting
rules), compiling all files together as 'opa check DIR' does.

ConstraintTemplates, as Gatekeeper ingests them (frameworks' template
checks): the name must be the lowercase kind; one target,
admission.k8s.gatekeeper.sh; the Rego is parsed as the template declares it
(targets[].rego is Rego v0; code[].source with version: "v1" is Rego v1, from
Gatekeeper 3.19); a violation rule is required; imports only from data.lib,
data only from data.lib and data.inventory; libs in packages under lib;
input only under input.review and input.parameters; and it must compile
with http.send disabled, as Gatekeeper's Helm chart sets it. Gatekeeper
rewrites the entry package, so it need not match the kind.

Findings map to O-002 (policy evaluation failed) and, for scans of
data.inventory with _ where a key lookup would do, O-004 (performance).

Exit codes: 0 nothing at or above --fail-on; 1 error; 2 bad usage or bad
input (no such path, no policies found); 3 a finding at or above --fail-on
(default major).`,
		Example: `  casebook check rego ./policies
  casebook check rego templates/k8srequiredlabels.yaml -o json
  casebook check rego policy.rego --rego-version v0
  casebook check rego ./policies --fail-on minor    # CI gate: fail on any finding`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s takes one or more paths (files or directories); see '%s --help'", cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(opts)
			}
			return checkRegoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json, sarif (code scanning) or junit (CI)")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "major", "exit 3 when a finding is at least this severe: critical, major, minor or none")
	cmd.Flags().StringVar(&opts.RegoVersion, "rego-version", "", "the Rego version standalone .rego files are written for: v0 or v1 (default: either; a v0-only file is a minor finding)")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions(inspectOutputs))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletions([]string{"critical", "major", "minor", "none"}))
	_ = cmd.RegisterFlagCompletionFunc("rego-version", fixedCompletions([]string{"v0", "v1"}))
	return cmd
}

func checkRegoRun(ctx context.Context, opts *CheckRegoOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := outputFlag(opts.Output, inspectOutputs...); err != nil {
		return err
	}
	rank, err := failRank(opts.FailOn)
	if err != nil {
		return usageErrorf("--fail-on: %v", err)
	}
	switch opts.RegoVersion {
	case "", "v0", "v1":
	default:
		return usageErrorf("--rego-version: unknown version %q (want v0 or v1)", opts.RegoVersion)
	}
	rep, err := untilDone(ctx, func() (*inspect.RegoReport, error) {
		return inspect.CheckRegoContext(ctx, opts.Paths, inspect.RegoOptions{Version: opts.RegoVersion})
	})
	if ctx.Err() != nil {
		return interruptedOr(ctx, err)
	}
	if err != nil {
		if inspect.IsInputError(err) {
			return &exitError{Code: ExitUsage, Err: err}
		}
		return err
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}
	in := report.NewRegoCheck(rep, caseTitles(lib, rep.Findings))
	return writeInspection(opts.IO, "casebook check rego", opts.Output, in, func(w io.Writer, color bool) error { return report.RegoTable(w, in, color) },
		rep.Findings, rank)
}
