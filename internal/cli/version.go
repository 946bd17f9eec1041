package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// VersionInfo is what `casebook version` reports.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// NewCmdVersion builds `casebook version`.
func NewCmdVersion(f *Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the casebook version, commit, build date and Go version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := outputFlag(output, "text", "json"); err != nil {
				return err
			}
			v := VersionInfo{Version: f.Version, Commit: f.Commit, Date: f.Date,
				GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if output == "json" {
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			line := fmt.Sprintf("casebook %s", v.Version)
			if v.Commit != "" {
				line += " (commit " + v.Commit
				if v.Date != "" {
					line += ", built " + v.Date
				}
				line += ")"
			}
			_, err := fmt.Fprintf(f.IO.Out, "%s\n%s %s\n", line, v.GoVersion, v.Platform)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions([]string{"text", "json"}))
	return cmd
}
