package cli

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/report"
	"github.com/casebook-dev/casebook/internal/reproduce"
)

// ShowOptions are the inputs of `casebook show`.
type ShowOptions struct {
	IO      *IOStreams
	Library func() (*caseload.Library, error)
	CasesFS func() (fs.FS, string)
	ID      string
	Output  string
}

// NewCmdShow builds `casebook show ID`.
func NewCmdShow(f *Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, Library: f.Library, CasesFS: f.CasesFS}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one case: symptoms, investigation, root cause, solution, verification",
		Example: `  casebook show W-001
  casebook show k-006 -o markdown`,
		Args:              exactArgs(1, "one case ID"),
		ValidArgsFunction: completeCaseIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "text, markdown or json")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions([]string{"text", "markdown", "json"}))
	return cmd
}

func showRun(opts *ShowOptions) error {
	if err := outputFlag(opts.Output, "text", "markdown", "json"); err != nil {
		return err
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}
	c, ok := lib.Get(opts.ID)
	if !ok {
		if s := lib.Suggest(opts.ID); s != "" {
			return usageErrorf("no case %s; did you mean %s?", opts.ID, s)
		}
		return usageErrorf("no case %s; see 'casebook list'", opts.ID)
	}
	switch opts.Output {
	case "markdown":
		fsys, _ := opts.CasesFS()
		data, err := fs.ReadFile(fsys, c.File)
		if err != nil {
			return fmt.Errorf("read case %s: %w", c.ID, err)
		}
		_, err = opts.IO.Out.Write(data)
		return err
	case "json":
		return report.JSON(opts.IO.Out, c.Detail())
	}
	_, err = fmt.Fprint(opts.IO.Out, renderCaseText(opts.IO, c))
	return err
}

// renderCaseText renders a case for a terminal: a header with the
// classification, then the body with headings emphasised and code blocks
// indented so commands are easy to pick out and copy.
func renderCaseText(io *IOStreams, c *casebook.Case) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s\n", io.Style(styleBold, c.ID), io.Style(styleBold, c.Title))
	if c.TitleEN != "" {
		fmt.Fprintf(&b, "%s\n", c.TitleEN)
	}
	b.WriteString("\n")
	meta := report.Table{}
	meta.AddRow("组件 component", c.Component.LabelEN())
	meta.AddRow("严重程度 severity", styleSeverity(io, c.Severity, c.Severity.Label()+" "+string(c.Severity)))
	meta.AddRow("类型 types", typeList(c.Types))
	status := c.Status.Label()
	if c.Detected {
		status += "  🔍 自动检测 (casebook diagnose)"
	}
	meta.AddRow("状态 status", status)
	if cmd := reproduce.Command(c.ID); cmd != "" {
		meta.AddRow("复现 reproduce", cmd+"  (实验集群 lab cluster only)")
	}
	if len(c.Environment) > 0 {
		keys := make([]string, 0, len(c.Environment))
		for k := range c.Environment {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		env := make([]string, len(keys))
		for i, k := range keys {
			env[i] = k + " " + c.Environment[k]
		}
		meta.AddRow("环境 environment", strings.Join(env, ", "))
	}
	if len(c.Related) > 0 {
		meta.AddRow("相关 related", strings.Join(c.Related, ", "))
	}
	_ = meta.Write(&b)
	if c.SummaryEN != "" {
		fmt.Fprintf(&b, "\n%s\n", wrap(c.SummaryEN, 78))
	}
	inCode := ""
	for _, ln := range strings.Split(c.Body, "\n") {
		trimmed := strings.TrimSpace(ln)
		if inCode != "" {
			if strings.HasPrefix(trimmed, inCode) && strings.Trim(trimmed, inCode[:1]) == "" {
				inCode = ""
				continue
			}
			b.WriteString("    " + io.Style(styleCyan, ln) + "\n")
			continue
		}
		if m := codeFence(trimmed); m != "" {
			inCode = m
			continue
		}
		switch {
		case strings.HasPrefix(ln, "## "):
			title := strings.TrimSpace(ln[3:])
			fmt.Fprintf(&b, "\n%s\n%s\n", io.Style(styleBold+styleGreen, title), io.Style(styleDim, strings.Repeat("─", 40)))
		case strings.HasPrefix(ln, "### "):
			fmt.Fprintf(&b, "\n%s\n", io.Style(styleBold, strings.TrimSpace(ln[4:])))
		default:
			b.WriteString(ln + "\n")
		}
	}
	if len(c.Signals) > 0 {
		fmt.Fprintf(&b, "\n%s\n", io.Style(styleBold, "特征报错及出处 Signals and their sources"))
		for _, sig := range c.Signals {
			fmt.Fprintf(&b, "  %s\n", io.Style(styleCyan, sig.String()))
			if sig.Versions != "" {
				fmt.Fprintf(&b, "    versions: %s\n", sig.Versions)
			}
			for _, src := range sig.Sources {
				fmt.Fprintf(&b, "    source:   %s\n", src)
			}
		}
	}
	if len(c.References) > 0 {
		fmt.Fprintf(&b, "\n%s\n", io.Style(styleBold, "References"))
		for _, r := range c.References {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	return b.String()
}

func codeFence(trimmed string) string {
	for _, m := range []string{"````", "```", "~~~"} {
		if strings.HasPrefix(trimmed, m) {
			return m
		}
	}
	return ""
}

// wrap breaks English text into lines of at most width characters.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		if n > 0 && n+1+len(w) > width {
			b.WriteString("\n")
			n = 0
		} else if n > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
