package cli

import (
	"strings"

	"github.com/spf13/cobra"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/report"
)

// ListOptions are the inputs of `casebook list`.
type ListOptions struct {
	IO        *IOStreams
	Library   func() (*caseload.Library, error)
	Component string
	Severity  string
	Type      string
	Status    string
	Output    string
}

// NewCmdList builds `casebook list`. runF replaces listRun in tests.
func NewCmdList(f *Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Library: f.Library}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List cases, filtered by component, severity, fault type or status",
		Example: `  casebook list --component wasmedge
  casebook list --severity 严重 --type 配置错误
  casebook list --status draft -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Component, "component", "", "wasmedge, k3s, opa-gatekeeper, network or storage")
	cmd.Flags().StringVar(&opts.Severity, "severity", "", "critical (严重), major (中等) or minor (轻微)")
	cmd.Flags().StringVar(&opts.Type, "type", "", "startup-failure, runtime-error, performance, security, misconfiguration (or 启动失败, 运行时错误, 性能问题, 安全漏洞, 配置错误)")
	cmd.Flags().StringVar(&opts.Status, "status", "", "complete (已完成) or draft (待补充)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("component", fixedCompletions(casebook.Components))
	_ = cmd.RegisterFlagCompletionFunc("severity", fixedCompletions(casebook.Severities))
	_ = cmd.RegisterFlagCompletionFunc("type", fixedCompletions(casebook.FaultTypes))
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletions([]casebook.Status{casebook.StatusComplete, casebook.StatusDraft}))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions([]string{"table", "json", "yaml"}))
	return cmd
}

// parseFilter turns the filter flags into a Filter; each accepts English keys and Chinese labels.
func parseFilter(component, severity, faultType, status string) (caseload.Filter, error) {
	var f caseload.Filter
	var err error
	if component != "" {
		if f.Component, err = casebook.ParseComponent(component); err != nil {
			return f, usageErrorf("--component: %v", err)
		}
	}
	if severity != "" {
		if f.Severity, err = casebook.ParseSeverity(severity); err != nil {
			return f, usageErrorf("--severity: %v", err)
		}
	}
	if faultType != "" {
		if f.Type, err = casebook.ParseFaultType(faultType); err != nil {
			return f, usageErrorf("--type: %v", err)
		}
	}
	if status != "" {
		if f.Status, err = casebook.ParseStatus(status); err != nil {
			return f, usageErrorf("--status: %v", err)
		}
	}
	return f, nil
}

func listRun(opts *ListOptions) error {
	if err := outputFlag(opts.Output, "table", "json", "yaml"); err != nil {
		return err
	}
	filter, err := parseFilter(opts.Component, opts.Severity, opts.Type, opts.Status)
	if err != nil {
		return err
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}
	selected := lib.Select(filter)
	switch opts.Output {
	case "json":
		return report.JSON(opts.IO.Out, summaries(selected))
	case "yaml":
		return report.YAML(opts.IO.Out, summaries(selected))
	}
	t := report.Table{Header: []string{"ID", "TITLE", "COMPONENT", "SEVERITY", "TYPES", "STATUS", "AUTO"}}
	for _, c := range selected {
		auto := ""
		if c.Detected {
			auto = "🔍"
		}
		t.AddRow(c.ID, c.Title, string(c.Component), c.Severity.Label()+" "+string(c.Severity), typeList(c.Types), c.Status.Label(), auto)
	}
	t.Style = func(row, col int, cell string) string {
		if row == 0 {
			return opts.IO.Style(styleBold, cell)
		}
		if col == 3 {
			return styleSeverity(opts.IO, selected[row-1].Severity, cell)
		}
		return cell
	}
	if err := t.Write(opts.IO.Out); err != nil {
		return err
	}
	if len(selected) == 0 {
		return usageErrorf("no case matches these filters")
	}
	return nil
}

func summaries(cs []*casebook.Case) []casebook.Summary {
	out := make([]casebook.Summary, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Summary())
	}
	return out
}

// styleSeverity colours text by severity: critical red, major yellow.
func styleSeverity(io *IOStreams, s casebook.Severity, label string) string {
	switch s {
	case casebook.SeverityCritical:
		return io.Style(styleRed, label)
	case casebook.SeverityMajor:
		return io.Style(styleYellow, label)
	}
	return label
}

func typeList(ts []casebook.FaultType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Label()
	}
	return strings.Join(s, "、")
}

func fixedCompletions[T ~string](values []T) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = string(v)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
