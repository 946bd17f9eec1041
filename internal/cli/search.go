package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/report"
	"github.com/casebook-dev/casebook/internal/search"
)

// SearchOptions are the inputs of `casebook search`.
type SearchOptions struct {
	IO      *IOStreams
	Library func() (*caseload.Library, error)
	Query   string
	Limit   int
	Output  string
}

// NewCmdSearch builds `casebook search QUERY`.
func NewCmdSearch(f *Factory, runF func(*SearchOptions) error) *cobra.Command {
	opts := &SearchOptions{IO: f.IO, Library: f.Library}
	cmd := &cobra.Command{
		Use:   "search QUERY...",
		Short: "Full-text search of the cases, in Chinese or English",
		Example: `  casebook search 证书过期
  casebook search cold start
  casebook search "webhook 超时"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("search needs a query; see 'casebook search --help'")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Query = strings.Join(args, " ")
			if runF != nil {
				return runF(opts)
			}
			return searchRun(opts)
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 10, "show at most `N` results")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table or json")
	return cmd
}

type searchResult struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	TitleEN  string   `json:"title_en"`
	Score    float64  `json:"score"`
	Snippets []string `json:"snippets"`
}

func searchRun(opts *SearchOptions) error {
	if err := outputFlag(opts.Output, "table", "json"); err != nil {
		return err
	}
	if opts.Limit < 1 {
		return usageErrorf("--limit must be at least 1")
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}
	ix, err := search.NewIndex(lib.Cases)
	if err != nil {
		return err
	}
	defer ix.Close()
	hits, err := ix.Search(opts.Query, opts.Limit)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if opts.Output == "json" {
		out := make([]searchResult, len(hits))
		for i, h := range hits {
			out[i] = searchResult{ID: h.Case.ID, Title: h.Case.Title, TitleEN: h.Case.TitleEN, Score: h.Score, Snippets: h.Snippets}
			for j, s := range out[i].Snippets {
				out[i].Snippets[j] = search.PlainSnippet(s, "", "")
			}
		}
		return report.JSON(opts.IO.Out, out)
	}
	if len(hits) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no case matches %q\n", opts.Query)
		return silentExit(ExitError)
	}
	open, closeMark := "«", "»"
	if opts.IO.Color {
		open, closeMark = styleBold+styleYellow, styleReset
	}
	for i, h := range hits {
		fmt.Fprintf(opts.IO.Out, "%d. %s  %s  %s\n", i+1, opts.IO.Style(styleBold, h.Case.ID), h.Case.Title,
			opts.IO.Style(styleDim, fmt.Sprintf("(%s, score %.3g)", h.Case.TitleEN, h.Score)))
		for j, s := range h.Snippets {
			if j == 2 {
				break
			}
			fmt.Fprintf(opts.IO.Out, "   %s\n", search.PlainSnippet(s, open, closeMark))
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "\nRead a case with: casebook show %s\n", hits[0].Case.ID)
	return nil
}
