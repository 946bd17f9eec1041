package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
	"github.com/casebook-dev/casebook/internal/web"
)

// ServeOptions are the inputs of `casebook serve`.
type ServeOptions struct {
	IO      *IOStreams
	Library func() (*caseload.Library, error)
	// Rules, when set, adds the detection rules beside the library's cases.
	Rules   func(lib *caseload.Library) []engine.Detector
	CasesFS func() (fs.FS, string)
	Addr    string
	// Snapshot is the snapshot the diagnose page shows, if any.
	Snapshot string
	// Live diagnoses the cluster of the current kubeconfig context; any
	// cluster flag (--context, --kubeconfig, -n, -A ...) implies it.
	Live    bool
	Cluster *ClusterOptions
	Config  string
	Timeout time.Duration
	// Refresh is how long a live diagnosis is reused before it is run again.
	Refresh time.Duration
	// Limits bound reading the snapshot.
	Limits snapshot.Limits
	// AllowedHosts are host names the server answers to (see web.Options).
	AllowedHosts []string
	// Ready, when set, is called with the server's URL once it listens.
	Ready func(url string)
}

// NewCmdServe builds `casebook serve`.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IO, Library: f.Library, CasesFS: f.CasesFS, Rules: f.RuleDetectors}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the casebook in a browser: browse, search, match and diagnose",
		Long: `Serve the casebook as a web UI and a JSON API (/api/v1/). It listens on
127.0.0.1:8080 unless told otherwise.

The diagnose page shows the cases found in the source the server is started
with: a snapshot (--snapshot PATH), or a live cluster (--live for the current
kubeconfig context, or any of the kubectl-style cluster flags; read-only, as
for diagnose; rediagnosed at most every --refresh). Without either it only
diagnoses snapshots uploaded on the page.`,
		Example: `  casebook serve
  casebook serve --snapshot examples/edge-cluster
  casebook serve --context edge-1 -A --addr 127.0.0.1:9000`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	opts.Cluster = newClusterOptions(cmd)
	cmd.Flags().StringVar(&opts.Addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "diagnose the snapshot at `PATH` (a directory or .tar.gz) on the diagnose page")
	cmd.Flags().BoolVar(&opts.Live, "live", false, "diagnose the cluster of the current kubeconfig context on the diagnose page")
	cmd.Flags().StringVar(&opts.Config, "config", "", "ignore accepted findings listed in `FILE` (as diagnose --config)")
	cmd.Flags().DurationVar(&opts.Timeout, "detector-timeout", 60*time.Second, "give up on a detector after this long (it becomes a warning)")
	cmd.Flags().DurationVar(&opts.Refresh, "refresh", 30*time.Second, "reuse a live diagnosis for this long")
	addSnapshotLimitFlags(cmd, &opts.Limits)
	addAllowedHostsFlag(cmd, &opts.AllowedHosts)
	return cmd
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return usageErrorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080", opts.Addr)
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}
	diag, ttl, err := serveDiagnoser(ctx, opts, lib)
	if err != nil {
		return err
	}
	fsys, prefix := opts.CasesFS()
	srv, err := web.New(web.Options{Library: lib, CasesFS: fsys, Prefix: prefix, Diagnoser: diag, DiagnoseTTL: ttl, ErrorLog: opts.IO.ErrOut,
		AllowedHosts: serverHosts(opts.Addr, opts.AllowedHosts)})
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(opts.IO.ErrOut, "%s serving on %s, which is not a loopback address: anyone who can reach it can read the cases and upload snapshots\n",
			opts.IO.Style(styleYellow, "warning:"), opts.Addr)
	}
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(opts.IO.ErrOut, "casebook: serving %d cases on %s (Ctrl-C to stop)\n", len(lib.Cases), url)
	if opts.Ready != nil {
		opts.Ready(url)
	}

	hs := web.NewHTTPServer(opts.Addr, srv.Handler())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", opts.Addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stop the server: %w", err)
	}
	return nil
}

// serveDiagnoser builds the diagnose page's diagnoser over the source the
// flags name, and says how long its diagnosis may be reused (0: for good).
func serveDiagnoser(ctx context.Context, opts *ServeOptions, lib *caseload.Library) (*web.EngineDiagnoser, time.Duration, error) {
	d := &web.EngineDiagnoser{Library: lib, Detectors: detectors.Set(lib.Cases), Timeout: opts.Timeout}
	if opts.Rules != nil {
		d.Detectors = append(d.Detectors, opts.Rules(lib)...)
	}
	if opts.Config != "" {
		excl, err := engine.LoadExclusions(opts.Config)
		if err != nil {
			return nil, 0, usageErrorf("--config: %v", err)
		}
		d.Exclusions = excl
	}
	var used []string
	if opts.Cluster != nil {
		used = opts.Cluster.clusterFlagsUsed()
		for _, f := range []string{"namespace", "all-namespaces"} {
			if opts.Cluster.Changed != nil && opts.Cluster.Changed(f) {
				used = append(used, "--"+f)
			}
		}
	}
	switch {
	case opts.Snapshot != "" && (opts.Live || len(used) > 0):
		return nil, 0, usageErrorf("--snapshot reads no cluster; drop --live and %v", used)
	case opts.Snapshot != "":
		snap, err := loadSnapshot(ctx, opts.IO, opts.Snapshot, opts.Limits)
		if err != nil {
			return nil, 0, err
		}
		for _, w := range snap.Warnings {
			fmt.Fprintf(opts.IO.ErrOut, "%s %s\n", opts.IO.Style(styleYellow, "warning:"), w)
		}
		d.Name, d.Src, d.SourceWarnings = snapshotName(opts.Snapshot, snap), snap, snap.Warnings
		return d, 0, nil
	case opts.Live || len(used) > 0:
		src, desc, err := opts.Cluster.connect(ctx)
		if err != nil {
			return nil, 0, err
		}
		d.Name, d.Src = desc, src
		return d, max(opts.Refresh, time.Second), nil
	}
	return d, 0, nil
}
