package cli

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/inspect"
	"github.com/casebook-dev/casebook/internal/report"
)

// InspectWasmOptions are the inputs of `casebook inspect wasm`.
type InspectWasmOptions struct {
	IO      *IOStreams
	Library func() (*caseload.Library, error)

	File        string
	Output      string
	FailOn      string
	MemoryLimit string
	Arch        string
	Network     bool
}

// NewCmdInspect builds `casebook inspect`, the parent of the artefact
// inspections; runF replaces the run of `inspect wasm` in tests.
func NewCmdInspect(f *Factory, runF func(*InspectWasmOptions) error) *cobra.Command {
	return parentCmd("inspect", "Inspect a Wasm module before it ships, against the cases it would run into",
		"an artefact", NewCmdInspectWasm(f, runF))
}

// parentCmd builds a command that only groups its subcommands (`inspect
// wasm`, `check rego`); called alone or with an unknown word it is a usage
// error naming the choices.
func parentCmd(use, short, what string, children ...*cobra.Command) *cobra.Command {
	var names []string
	for _, c := range children {
		names = append(names, c.Name())
	}
	choices := strings.Join(names, ", ")
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown %s %q for %s (want: %s); see '%s --help'", strings.TrimPrefix(strings.TrimPrefix(what, "a "), "an "), args[0], cmd.CommandPath(), choices, cmd.CommandPath())
			}
			return usageErrorf("%s needs %s: %s; see '%s --help'", cmd.CommandPath(), what, choices, cmd.CommandPath())
		},
	}
	cmd.AddCommand(children...)
	return cmd
}

// NewCmdInspectWasm builds `casebook inspect wasm FILE`.
func NewCmdInspectWasm(f *Factory, runF func(*InspectWasmOptions) error) *cobra.Command {
	opts := &InspectWasmOptions{IO: f.IO, Library: f.Library}
	cmd := &cobra.Command{
		Use:   "wasm FILE",
		Short: "Inspect a Wasm module: imports, exports, memory, AOT, and the WasmEdge cases they lead to",
		Long: `Inspect a WebAssembly module with wazero (a Wasm implementation in Go,
nothing is executed) and check it against what WasmEdge, crun's WasmEdge
handler and the runwasi shim support. Reports the module's size, imports by
host module, exports, memories with their limits in 64 KiB pages, custom
sections and WasmEdge's AOT section, then each problem as a finding tied to
its case:

  W-005  wasi-threads (thread-spawn) imports; shared memory or atomics (Threads proposal)
  W-003  plugin imports for TLS (rustls_client); no socket support with --network
  W-008  other plugin imports (wasi_ephemeral_nn, wasi-crypto, wasi:logging, wasmedge_*)
  W-002  memory with no maximum, or one above --memory-limit; over 4 GiB
  W-001  no AOT section, or AOT code for another OS or --arch (W-006: 0.17 run mode)

Each finding has its own severity (critical, major, minor); notes are facts
that fail nothing.

Exit codes: 0 nothing at or above --fail-on; 1 error; 2 bad usage or bad
input (no such file, not a Wasm module, truncated, larger than 256 MiB);
3 a finding at or above --fail-on (default major).`,
		Example: `  casebook inspect wasm app.wasm
  casebook inspect wasm app.wasm --memory-limit 128Mi --arch arm64
  casebook inspect wasm server.wasm --network -o json
  casebook inspect wasm app.wasm --fail-on minor    # CI gate: fail on any finding`,
		Args: exactArgs(1, "one Wasm module"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return inspectWasmRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json, sarif (code scanning) or junit (CI)")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "major", "exit 3 when a finding is at least this severe: critical, major, minor or none")
	cmd.Flags().StringVar(&opts.MemoryLimit, "memory-limit", "", "the container's memory limit (`QUANTITY`, e.g. 128Mi), to check the module's memory maximum against")
	cmd.Flags().StringVar(&opts.Arch, "arch", "", "the nodes' CPU architecture (amd64, arm64, riscv64, arm), to check AOT code against")
	cmd.Flags().BoolVar(&opts.Network, "network", false, "the module is meant to open network connections (check it can on WasmEdge)")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions(inspectOutputs))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletions([]string{"critical", "major", "minor", "none"}))
	_ = cmd.RegisterFlagCompletionFunc("arch", fixedCompletions([]string{"amd64", "arm64", "riscv64", "arm"}))
	return cmd
}

func inspectWasmRun(ctx context.Context, opts *InspectWasmOptions) error {
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
	wopts := inspect.WasmOptions{Network: opts.Network}
	if opts.MemoryLimit != "" {
		q, err := resource.ParseQuantity(opts.MemoryLimit)
		if err != nil || q.Value() <= 0 {
			return usageErrorf("--memory-limit: %q is not a memory quantity such as 128Mi or 1Gi", opts.MemoryLimit)
		}
		wopts.MemoryLimit = q.Value()
	}
	if wopts.Arch, err = inspect.NormalizeArch(opts.Arch); err != nil {
		return usageErrorf("--arch: %v", err)
	}
	rep, err := untilDone(ctx, func() (*inspect.WasmReport, error) { return inspect.InspectWasmFile(ctx, opts.File, wopts) })
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
	in := report.NewWasmInspection(rep, caseTitles(lib, rep.Findings))
	return writeInspection(opts.IO, "casebook inspect wasm", opts.Output, in, func(w io.Writer, color bool) error { return report.WasmTable(w, in, color) },
		rep.Findings, rank)
}

// caseTitles gives the title of each case among the findings, for people.
func caseTitles(lib *caseload.Library, fs []casebook.Finding) map[string]casebook.CaseTitle {
	titles := map[string]casebook.CaseTitle{}
	for _, f := range fs {
		if c, ok := lib.Get(f.CaseID); ok {
			titles[f.CaseID] = casebook.CaseTitle{Title: c.Title, TitleEN: c.TitleEN}
		}
	}
	return titles
}

// findingsExit ends a check with ExitFindings when a finding is at least
// as severe as rank.
// writeInspection writes an inspection as JSON or as its table, then turns
// its findings into the exit code.
func writeInspection(streams *IOStreams, command, output string, v any, table func(io.Writer, bool) error, fs []casebook.Finding, rank int) error {
	var err error
	switch output {
	case "json":
		err = report.JSON(streams.Out, v)
	case "sarif", "junit":
		r, ok := v.(interface {
			Report() *casebook.Report
			Locate(casebook.ObjectRef) (string, int)
			Subjects() []casebook.ObjectRef
		})
		if !ok {
			return usageErrorf("-o %s is not available here", output)
		}
		// The findings of inspect and check are told in English.
		m := report.Meta{Lang: report.EN, Command: command, Locate: r.Locate, Subjects: r.Subjects()}
		if output == "sarif" {
			err = report.SARIF(streams.Out, r.Report(), m)
		} else {
			err = report.JUnit(streams.Out, r.Report(), m)
		}
	default:
		err = table(streams.Out, streams.Color)
	}
	if err != nil {
		return err
	}
	return findingsExit(fs, rank)
}

// inspectOutputs are the formats of `inspect wasm -o` and `check rego -o`.
var inspectOutputs = []string{"table", "json", "sarif", "junit"}

func findingsExit(fs []casebook.Finding, rank int) error {
	for _, f := range fs {
		if f.Severity.Rank() >= rank {
			return silentExit(ExitFindings)
		}
	}
	return nil
}
