package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	casebook "github.com/casebook-dev/casebook"
	repros "github.com/casebook-dev/casebook/cases/reproduce"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/live"
	"github.com/casebook-dev/casebook/internal/reproduce"
)

// ReproduceOptions are the inputs of `casebook reproduce`.
type ReproduceOptions struct {
	IO      *IOStreams
	Library func() (*caseload.Library, error)
	Flags   *genericclioptions.ConfigFlags

	ID       string
	Yes      bool
	DryRun   bool
	IKnow    bool
	MaxNodes int
	Timeout  time.Duration
	Poll     time.Duration
}

// NewCmdReproduce builds `casebook reproduce ID`.
func NewCmdReproduce(f *Factory, runF func(*ReproduceOptions) error) *cobra.Command {
	opts := &ReproduceOptions{IO: f.IO, Library: f.Library}
	cmd := &cobra.Command{
		Use:   "reproduce ID",
		Short: "Make a case happen on a lab cluster, show it found, apply its fix, show it clear, clean up",
		Long: `Reproduce a case on a lab cluster: apply the case's broken objects into a
namespace of their own (casebook-lab-<id>, labelled casebook.dev/reproduce=<id>),
wait until diagnose reports the case, apply the case's fix, wait until the
finding clears, and delete everything created — also on Ctrl-C, and a later
run first removes what a crashed run left.

This is the only casebook command that writes to a cluster, so it asks
before it does:
  - it lists every object it will create and asks for "yes" (--yes skips the
    question; --dry-run lists and stops);
  - it refuses a cluster with more than --max-nodes nodes (default 5) unless
    --i-know says it is a lab all the same;
  - it refuses a casebook-lab-<id> namespace it did not make, and creates
    cluster-scoped objects (RuntimeClass, StorageClass, IngressClass) only
    with names starting casebook-lab-.
Everything else in casebook stays read-only.`,
		Example: `  casebook reproduce K-002 --context lab --dry-run
  casebook reproduce K-002 --context lab
  casebook reproduce K-002 --kubeconfig lab.yaml --yes`,
		Args: exactArgs(1, "one case ID"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			all, _ := reproduce.LoadAll(repros.FS())
			return reproduce.IDs(all), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = strings.ToUpper(args[0])
			if runF != nil {
				return runF(opts)
			}
			return reproduceRun(cmd.Context(), opts)
		},
	}
	opts.Flags = genericclioptions.NewConfigFlags(false)
	opts.Flags.Namespace = nil // the namespace is always casebook-lab-<id>
	opts.Flags.AddFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list every object the run would create and delete, and stop")
	cmd.Flags().BoolVar(&opts.IKnow, "i-know", false, "run on a cluster with more than --max-nodes nodes")
	cmd.Flags().IntVar(&opts.MaxNodes, "max-nodes", reproduce.DefaultMaxNodes, "a cluster with more nodes than this is not taken for a lab")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "give up waiting for the finding to appear or clear after this long (default: the reproduction's own)")
	cmd.Flags().DurationVar(&opts.Poll, "poll", 2*time.Second, "how often to diagnose while waiting")
	return cmd
}

// errNotConfirmed is returned when the user did not answer yes.
var errNotConfirmed = errors.New("not confirmed: nothing was created (answer yes, or pass --yes)")

func reproduceRun(ctx context.Context, opts *ReproduceOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	all, err := reproduce.LoadAll(repros.FS())
	if err != nil {
		return err
	}
	r, ok := all[opts.ID]
	if !ok {
		return usageErrorf("case %s has no reproduction; reproductions exist for %s", opts.ID, strings.Join(reproduce.IDs(all), ", "))
	}
	out := opts.IO.Out
	title := ""
	if lib, err := opts.Library(); err == nil {
		if c, ok := lib.Get(r.CaseID); ok {
			title = "  " + c.Title
		}
	}
	fmt.Fprintf(out, "%s%s — reproduction\n", opts.IO.Style(styleBold, r.CaseID), title)
	if r.SummaryEN != "" {
		fmt.Fprintf(out, "%s\n", wrap(r.SummaryEN, 78))
	}
	fmt.Fprintf(out, "needs: %s\n\n", strings.Join(r.Needs, ", "))
	for _, ln := range r.Plan() {
		fmt.Fprintf(out, "  %s\n", ln)
	}
	if opts.DryRun {
		fmt.Fprintln(out, "\ndry run: nothing was sent to a cluster")
		return nil
	}

	cfg, err := opts.Flags.ToRESTConfig()
	if err != nil {
		return usageErrorf("no cluster: %v (use --kubeconfig or --context)", err)
	}
	where := cfg.Host
	if raw, err := opts.Flags.ToRawKubeConfigLoader().RawConfig(); err == nil {
		name := raw.CurrentContext
		if opts.Flags.Context != nil && *opts.Flags.Context != "" {
			name = *opts.Flags.Context
		}
		where = fmt.Sprintf("context %s (%s)", name, cfg.Host)
	}
	lab, err := reproduce.NewLab(cfg)
	if err != nil {
		return err
	}
	if err := lab.Check(ctx, r, opts.MaxNodes, opts.IKnow); err != nil {
		return &exitError{Code: ExitError, Err: err}
	}
	if !opts.Yes {
		fmt.Fprintf(out, "\nThis writes the objects above to %s.\nType yes to go on: ", where)
		line, _ := bufio.NewReader(opts.IO.In).ReadString('\n')
		if strings.TrimSpace(strings.ToLower(line)) != "yes" {
			fmt.Fprintln(out)
			return &exitError{Code: ExitError, Err: errNotConfirmed}
		}
	}

	lib, err := opts.Library()
	if err != nil {
		return err
	}
	src, err := live.New(cfg, live.Options{Namespace: r.Namespace()})
	if err != nil {
		return err
	}
	ds := append(detectors.All(), detectors.SignalMatch(lib.Cases)...)
	diagnose := func(ctx context.Context) ([]casebook.Finding, error) {
		res, err := engine.Run(ctx, src, ds, engine.Options{Case: lib.Get})
		if err != nil {
			return nil, err
		}
		return res.Findings, nil
	}

	// Ctrl-C cancels the run; Run cleans up with a context of its own.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(out, "\nreproducing %s on %s\n", r.CaseID, where)
	res, err := reproduce.Run(ctx, lab, r, reproduce.RunOptions{
		Diagnose: diagnose,
		Poll:     opts.Poll,
		Timeout:  opts.Timeout,
		Progress: func(format string, args ...any) {
			fmt.Fprintf(out, "%s %s\n", opts.IO.Style(styleDim, time.Now().Format("15:04:05")), fmt.Sprintf(format, args...))
		},
	})
	if res != nil {
		for _, f := range res.Broken {
			printReproFinding(opts.IO, f)
		}
		if len(res.Removed) > 0 {
			fmt.Fprintf(out, "removed: %s\n", strings.Join(res.Removed, ", "))
		}
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &exitError{Code: ExitError, Err: fmt.Errorf("interrupted; cleaned up: %w", err)}
		}
		return &exitError{Code: ExitError, Err: err}
	}
	fmt.Fprintf(out, "%s %s appeared after %s and cleared %s after the fix\n", opts.IO.Style(styleGreen, "✓"), r.CaseID,
		res.AppearedAfter.Round(time.Second), res.ClearedAfter.Round(time.Second))
	return nil
}

func printReproFinding(io *IOStreams, f casebook.Finding) {
	var objs []string
	for _, o := range f.Objects {
		objs = append(objs, o.String())
	}
	fmt.Fprintf(io.Out, "\n%s %s [%s] %s\n", io.Style(styleYellow, "finding"), f.CaseID, f.Cause, strings.Join(objs, ", "))
	fmt.Fprintf(io.Out, "  %s\n", f.Message)
	for _, e := range f.Evidence {
		fmt.Fprintf(io.Out, "  %s %s\n", io.Style(styleDim, "│"), e)
	}
}
