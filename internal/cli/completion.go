package cli

import (
	"strings"

	"github.com/spf13/cobra"

	casebook "github.com/casebook-dev/casebook"
)

// completeCaseIDs completes a case ID, each with its titles as the
// description that zsh and fish show beside it (bash shows the IDs only).
func completeCaseIDs(f *Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		lib, err := f.Library()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []string
		for _, c := range lib.Cases {
			// IDs are upper case, but show takes w-001 too.
			if !strings.HasPrefix(c.ID, strings.ToUpper(toComplete)) {
				continue
			}
			desc := c.Title
			if c.TitleEN != "" {
				desc += " (" + c.TitleEN + ")"
			}
			out = append(out, c.ID+"\t"+desc)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// addCompletions completes the case kinds (component, severity, fault type,
// status) wherever a command takes them and has no completion of its own.
func addCompletions(root *cobra.Command) {
	kinds := map[string]cobra.CompletionFunc{
		"component": fixedCompletions(casebook.Components),
		"severity":  fixedCompletions(casebook.Severities),
		"type":      fixedCompletions(casebook.FaultTypes),
		"status":    fixedCompletions([]string{"complete", "draft"}),
	}
	for _, c := range root.Commands() {
		for name, fn := range kinds {
			if c.Flags().Lookup(name) == nil {
				continue
			}
			if _, ok := c.GetFlagCompletionFunc(name); ok {
				continue
			}
			_ = c.RegisterFlagCompletionFunc(name, fn)
		}
	}
}
