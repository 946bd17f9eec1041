package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/live"
	"github.com/casebook-dev/casebook/internal/progress"
	"github.com/casebook-dev/casebook/internal/report"
	"github.com/casebook-dev/casebook/internal/snapshot"
	"github.com/casebook-dev/casebook/internal/web"
)

// DiagnoseOptions are the inputs of `casebook diagnose`.
type DiagnoseOptions struct {
	IO        *IOStreams
	Library   func() (*caseload.Library, error)
	Detectors func() []engine.Detector
	// Signals, when set, adds detectors built from the library: the
	// text-based signal matches of the cases without a dedicated detector.
	Signals func(cases []*casebook.Case) []engine.Detector
	// Rules, when set, adds the detection rules beside the library's cases.
	Rules   func(lib *caseload.Library) []engine.Detector
	Cluster *ClusterOptions
	// Progress, when set, returns what shows progress of a live diagnosis.
	Progress func(what string, kinds, detectors int) progress.Observer

	Snapshot string
	Output   string
	// Lang is the language of the findings in table, Markdown, SARIF,
	// JUnit and HTML output: zh or en; empty follows LC_ALL, LC_MESSAGES,
	// LANG.
	Lang string
	// Getenv reads the locale; nil is os.Getenv.
	Getenv  func(string) string
	FailOn  string
	Config  string
	Timeout time.Duration
	// Limits bound reading the snapshot.
	Limits snapshot.Limits
	// Logs reads the log tails of troubled pods (--logs).
	Logs bool
	// Prometheus is the URL of a Prometheus server to query (--prometheus).
	Prometheus string
	// Version is casebook's version, which SARIF, JUnit and HTML name.
	Version string
}

// ClusterOptions are the kubectl-style flags that pick a cluster and a
// namespace, shared by diagnose and collect.
type ClusterOptions struct {
	Flags         *genericclioptions.ConfigFlags
	AllNamespaces bool
	// Changed reports whether a flag was given on the command line.
	Changed func(name string) bool
}

func newClusterOptions(cmd *cobra.Command) *ClusterOptions {
	o := &ClusterOptions{Flags: genericclioptions.NewConfigFlags(false)}
	o.Flags.AddFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "read every namespace (the default unless -n is given or the context sets a namespace)")
	o.Changed = func(name string) bool { return cmd.Flags().Changed(name) }
	return o
}

// clusterFlagsUsed lists the cluster-selecting flags given on the command line.
func (o *ClusterOptions) clusterFlagsUsed() []string {
	var used []string
	for _, f := range []string{"kubeconfig", "context", "cluster", "user", "server", "token", "as"} {
		if o.Changed != nil && o.Changed(f) {
			used = append(used, "--"+f)
		}
	}
	return used
}

// namespace resolves the namespace to read as kubectl users expect: -A
// reads all, -n reads one, and without either the context's namespace is
// read when the context sets one, and every namespace otherwise.
func (o *ClusterOptions) namespace() (string, error) {
	if o.AllNamespaces {
		return "", nil
	}
	loader := o.Flags.ToRawKubeConfigLoader()
	if o.Flags.Namespace != nil && *o.Flags.Namespace != "" {
		return *o.Flags.Namespace, nil
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return "", err
	}
	ctxName := raw.CurrentContext
	if o.Flags.Context != nil && *o.Flags.Context != "" {
		ctxName = *o.Flags.Context
	}
	if c := raw.Contexts[ctxName]; c != nil {
		return c.Namespace, nil
	}
	return "", nil
}

// connect builds a live source and checks that the cluster answers. It
// returns the source and a description of the cluster.
func (o *ClusterOptions) connect(ctx context.Context) (*live.Source, string, error) {
	cfg, err := o.Flags.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to read: %w (use --kubeconfig or --context, or --snapshot for a bundle)", err)
	}
	ns, err := o.namespace()
	if err != nil {
		return nil, "", fmt.Errorf("read kubeconfig: %w", err)
	}
	src, err := live.New(cfg, live.Options{Namespace: ns})
	if err != nil {
		return nil, "", err
	}
	guarded := *cfg
	guarded.Wrap(live.ReadOnlyAt(live.HostPath(cfg.Host)))
	dc, err := discovery.NewDiscoveryClientForConfig(&guarded)
	if err != nil {
		return nil, "", err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, "", fmt.Errorf("cluster at %s does not answer: %w", cfg.Host, err)
	}
	desc := fmt.Sprintf("cluster %s (Kubernetes %s)", cfg.Host, v.GitVersion)
	if raw, err := o.Flags.ToRawKubeConfigLoader().RawConfig(); err == nil {
		name := raw.CurrentContext
		if o.Flags.Context != nil && *o.Flags.Context != "" {
			name = *o.Flags.Context
		}
		if name != "" {
			desc = fmt.Sprintf("context %s, %s", name, desc)
		}
	}
	if ns != "" {
		desc += fmt.Sprintf(", namespace %s", ns)
	} else {
		desc += ", all namespaces"
	}
	_ = ctx
	return src, desc, nil
}

// NewCmdDiagnose builds `casebook diagnose`.
func NewCmdDiagnose(f *Factory, runF func(*DiagnoseOptions) error) *cobra.Command {
	opts := &DiagnoseOptions{IO: f.IO, Library: f.Library, Detectors: detectors.All, Signals: detectors.Extra, Rules: f.RuleDetectors, Progress: f.progress, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "diagnose [--snapshot PATH | cluster flags]",
		Short: "Find known cases in a live cluster or an offline snapshot",
		Long: `Read a cluster's state and report which known cases apply, with the
evidence quoted verbatim and each case's first investigation step.

The state comes from a live cluster (kubeconfig and flags as kubectl takes
them; read-only: get, list and watch only, Secrets as metadata only) or
from a snapshot: a directory or .tar.gz of YAML/JSON, as kubectl get -o yaml,
kubectl cluster-info dump --output-directory or casebook collect write it.

Exit codes: 0 nothing found at or above --fail-on; 1 error (cluster
unreachable, interrupted); 2 bad usage or input (unknown flag, unreadable
or empty snapshot, one beyond the --max-* limits, bad config); 3 findings at
or above --fail-on.`,
		Example: `  casebook diagnose --snapshot examples/edge-cluster
  casebook diagnose --context edge-1 -A
  casebook diagnose -n shop -o json
  casebook diagnose --snapshot bundle.tar.gz --fail-on critical --config .casebook.yaml
  casebook diagnose --snapshot bundle.tar.gz -o sarif > casebook.sarif
  casebook diagnose -A -o junit > casebook-junit.xml
  casebook diagnose --context edge-1 -A -o html --lang en > report.html`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return diagnoseRun(cmd.Context(), opts)
		},
	}
	opts.Cluster = newClusterOptions(cmd)
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "diagnose the snapshot at `PATH` (directory, .tar.gz or file) instead of a live cluster")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json, yaml, markdown, sarif (code scanning), junit (CI) or html (one self-contained page for a ticket)")
	cmd.Flags().StringVar(&opts.Lang, "lang", "", "language of the findings: zh or en (default from LC_ALL, LC_MESSAGES or LANG; zh when they say neither)")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "minor", "exit 3 when a finding is at least this severe: critical, major, minor or none")
	cmd.Flags().StringVar(&opts.Config, "config", "", "ignore accepted findings listed in `FILE` (by case, namespace, object name pattern)")
	cmd.Flags().BoolVar(&opts.Logs, "logs", true, "read the log tails (300 lines, 64 KiB each, 4 MiB a run) of pods that crash, restart or are not Ready, and match them against the cases")
	cmd.Flags().StringVar(&opts.Prometheus, "prometheus", "", "also read Gatekeeper's validation latency (O-004) and node disk latency (S-002) from the Prometheus server at `URL` (PromQL over its HTTP API, GET only)")
	cmd.Flags().DurationVar(&opts.Timeout, "detector-timeout", 60*time.Second, "give up on a detector after this long (it becomes a warning)")
	addSnapshotLimitFlags(cmd, &opts.Limits)
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions(diagnoseOutputs))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletions([]string{"critical", "major", "minor", "none"}))
	return cmd
}

// diagnoseOutputs are the formats of `diagnose -o`.
var diagnoseOutputs = []string{"table", "json", "yaml", "markdown", "sarif", "junit", "html"}

// failRank is the lowest severity rank that fails the run; 0 never fails.
func failRank(s string) (int, error) {
	if s == "none" || s == "never" {
		return 99, nil
	}
	sev, err := casebook.ParseSeverity(s)
	if err != nil {
		return 0, err
	}
	return sev.Rank(), nil
}

func diagnoseRun(ctx context.Context, opts *DiagnoseOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := outputFlag(opts.Output, diagnoseOutputs...); err != nil {
		return err
	}
	lang, err := findingsLang(opts.Lang, opts.Getenv)
	if err != nil {
		return err
	}
	rank, err := failRank(opts.FailOn)
	if err != nil {
		return usageErrorf("--fail-on: %v", err)
	}
	var excl *engine.Exclusions
	if opts.Config != "" {
		if excl, err = engine.LoadExclusions(opts.Config); err != nil {
			return usageErrorf("--config: %v", err)
		}
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}

	var (
		src      casebook.Source
		source   string
		warnings []casebook.Warning
	)
	if opts.Snapshot != "" {
		if used := opts.Cluster.clusterFlagsUsed(); len(used) > 0 {
			return usageErrorf("--snapshot reads no cluster; drop %v", used)
		}
		snap, err := loadSnapshot(ctx, opts.IO, opts.Snapshot, opts.Limits)
		if err != nil {
			return err
		}
		if ns := opts.Cluster.Flags.Namespace; ns != nil && !opts.Cluster.AllNamespaces {
			snap.Namespace = *ns
		}
		src, warnings = snap, snap.Warnings
		source = snapshotName(opts.Snapshot, snap)
	} else {
		s, desc, err := opts.Cluster.connect(ctx)
		if err != nil {
			return err
		}
		src, source = s, desc
	}

	var prom *cluster.Prometheus
	if opts.Prometheus != "" {
		if u, err := url.Parse(opts.Prometheus); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErrorf("--prometheus %s: want an http:// or https:// URL", opts.Prometheus)
		}
		prom = &cluster.Prometheus{URL: opts.Prometheus}
	}
	ds := opts.Detectors()
	if opts.Signals != nil {
		ds = append(ds, opts.Signals(lib.Cases)...)
	}
	if opts.Rules != nil {
		ds = append(ds, opts.Rules(lib)...)
	}
	lookup := withBuiltinCases(lib)
	var prog progress.Observer
	if opts.Snapshot == "" && opts.Progress != nil {
		prog = opts.Progress("diagnose", 0, len(ds))
	}
	d, err := engine.Diagnose(ctx, progress.Source(src, prog), ds, engine.Diagnosis{Source: source, SourceWarnings: warnings},
		engine.Options{Timeout: opts.Timeout, Case: lookup, Exclusions: excl, DetectorDone: progress.DetectorDone(prog),
			Logs: cluster.LogOptions{Off: !opts.Logs}, Prometheus: prom})
	progress.Done(prog)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &exitError{Code: ExitError, Err: errors.New("interrupted")}
		}
		return err
	}

	meta := report.Meta{Lang: lang, Version: opts.Version, Case: lookup}
	switch opts.Output {
	case "sarif":
		err = report.SARIF(opts.IO.Out, d, meta)
	case "junit":
		err = report.JUnit(opts.IO.Out, d, meta)
	case "html":
		var css []byte
		if css, err = web.Stylesheet(); err == nil {
			err = report.HTML(opts.IO.Out, d, meta, css)
		}
	case "json":
		err = report.JSON(opts.IO.Out, d)
	case "yaml":
		err = report.YAML(opts.IO.Out, d)
	case "markdown":
		err = report.Markdown(opts.IO.Out, d, lang)
	default:
		err = report.DiagnoseTable(opts.IO.Out, d, opts.IO.Color, lang)
	}
	if err != nil {
		return err
	}
	if d.Fails(rank) {
		return silentExit(ExitFindings)
	}
	return nil
}

// snapshotName describes a snapshot as reports name their source; serve
// names its snapshot the same way, so both give the same report.
func snapshotName(path string, snap *snapshot.Snapshot) string {
	name := fmt.Sprintf("snapshot %s (%d files)", path, snap.Files)
	if snap.Namespace != "" {
		name += ", namespace " + snap.Namespace
	}
	return name
}

// findingsLang picks the language of the findings: --lang, else the
// locale (LC_ALL, LC_MESSAGES, LANG, the first one set), else Chinese, the
// language of the cases.
func findingsLang(flag string, getenv func(string) string) (report.Lang, error) {
	if flag != "" {
		l, ok := report.ParseLang(flag)
		if !ok || (flag != "zh" && flag != "en") {
			return "", usageErrorf("--lang %q: want zh or en", flag)
		}
		return l, nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if s := getenv(v); s != "" {
			if l, ok := report.ParseLang(s); ok {
				return l, nil
			}
			break
		}
	}
	return report.ZH, nil
}

// loadSnapshot reads the snapshot at path within lim. A snapshot that is
// unreadable, beyond the limits or holds no object at all is bad input
// (exit 2), with the problems of its files on ErrOut first; an interrupt
// is an error (exit 1).
func loadSnapshot(ctx context.Context, streams *IOStreams, path string, lim snapshot.Limits) (*snapshot.Snapshot, error) {
	snap, err := snapshot.LoadContext(ctx, path, lim)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &exitError{Code: ExitError, Err: errors.New("interrupted while reading the snapshot")}
		}
		return nil, usageErrorf("cannot read the snapshot: %v", err)
	}
	if err := snap.RequireObjects(); err != nil {
		for _, w := range snap.Warnings {
			fmt.Fprintf(streams.ErrOut, "%s %s\n", streams.Style(styleYellow, "warning:"), w)
		}
		return nil, usageErrorf("%v; there is nothing to diagnose", err)
	}
	return snap, nil
}
