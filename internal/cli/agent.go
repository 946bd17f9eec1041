package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/agent"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/web"
)

// AgentOptions are the inputs of `casebook agent`.
type AgentOptions struct {
	IO        *IOStreams
	Library   func() (*caseload.Library, error)
	CasesFS   func() (fs.FS, string)
	Detectors func() []engine.Detector
	// Signals, when set, adds detectors built from the library: the
	// text-based signal matches of the cases without a dedicated detector.
	Signals func(cases []*casebook.Case) []engine.Detector
	// Rules, when set, adds the detection rules beside the library's cases.
	Rules   func(lib *caseload.Library) []engine.Detector
	Cluster *ClusterOptions

	Addr     string
	Interval time.Duration
	Config   string
	Timeout  time.Duration
	// RunTimeout bounds one whole diagnosis.
	RunTimeout time.Duration
	// Logs reads the log tails of troubled pods (--logs).
	Logs bool
	// AllowedHosts are host names the UI answers to, besides the in-cluster
	// names of the agent's Service.
	AllowedHosts []string

	// Connect, when set, replaces the live cluster: it returns the source
	// to diagnose and its description, and is called for every diagnosis
	// (tests diagnose snapshots with it).
	Connect func(ctx context.Context) (casebook.Source, string, error)
	// Ready, when set, is called with the server's URL once it listens.
	Ready func(url string)
}

// NewCmdAgent builds `casebook agent`.
func NewCmdAgent(f *Factory, runF func(context.Context, *AgentOptions) error) *cobra.Command {
	opts := &AgentOptions{IO: f.IO, Library: f.Library, CasesFS: f.CasesFS, Detectors: detectors.All, Signals: detectors.Extra, Rules: f.RuleDetectors}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Keep watching a cluster: re-diagnose it on an interval, serve the UI and Prometheus metrics",
		Long: `Run inside a cluster (deploy/casebook-agent.yaml) and keep watching it: the
cluster is diagnosed at start and every --interval, read-only (get, list and
watch; Secrets as metadata only) through the pod's ServiceAccount — or a
kubeconfig and the kubectl-style flags when run outside a cluster.

It serves the same web UI and JSON API as casebook serve, showing the last
good diagnosis (readers never trigger a read of the cluster; uploads are
off), and:

  /metrics   Prometheus text format: casebook_findings{case,severity},
             casebook_diagnose_duration_seconds, casebook_diagnose_warnings,
             casebook_last_diagnose_timestamp_seconds,
             casebook_diagnose_errors_total, casebook_diagnose_runs_total
  /healthz   200 while the process serves
  /readyz    200 once a diagnosis has succeeded, 503 before

It listens on 0.0.0.0:8080 by default, on every interface, because it is an
in-cluster service behind a Service: anyone who can reach the port can read
the findings. Outside a cluster use --addr 127.0.0.1:8080. A failed diagnosis
(cluster unreachable, timeout) is counted and logged and the last good result
is kept. SIGTERM or SIGINT stops it gracefully.

The UI answers to IP addresses, localhost (kubectl port-forward) and, in a
pod, the names of its Service (casebook-agent, casebook-agent.NAMESPACE,
…svc, …svc.CLUSTER-DOMAIN); add an Ingress's name with --allowed-hosts.
/metrics, /healthz and /readyz answer to any host.`,
		Example: `  casebook agent                                   # in a pod: in-cluster config
  casebook agent --interval 1m --config /etc/casebook/ignore.yaml
  casebook agent --context edge-1 --addr 127.0.0.1:8080  # from a workstation`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return agentRun(cmd.Context(), opts)
		},
	}
	opts.Cluster = newClusterOptions(cmd)
	cmd.Flags().StringVar(&opts.Addr, "addr", "0.0.0.0:8080", "listen on `HOST:PORT` (all interfaces by default: an in-cluster service)")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 5*time.Minute, "re-diagnose the cluster this often")
	cmd.Flags().StringVar(&opts.Config, "config", "", "ignore accepted findings listed in `FILE` (as diagnose --config)")
	cmd.Flags().DurationVar(&opts.Timeout, "detector-timeout", 60*time.Second, "give up on a detector after this long (it becomes a warning)")
	cmd.Flags().BoolVar(&opts.Logs, "logs", true, "read the log tails (300 lines, 64 KiB each, 4 MiB a run) of pods that crash, restart or are not Ready")
	cmd.Flags().DurationVar(&opts.RunTimeout, "diagnose-timeout", 5*time.Minute, "give up on a whole diagnosis after this long (counted as an error)")
	addAllowedHostsFlag(cmd, &opts.AllowedHosts)
	return cmd
}

func agentRun(ctx context.Context, opts *AgentOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// The kubelet stops a pod with SIGTERM.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()

	if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
		return usageErrorf("--addr %q: want HOST:PORT, e.g. 0.0.0.0:8080", opts.Addr)
	}
	if opts.Interval < time.Second {
		return usageErrorf("--interval %s: want at least 1s", opts.Interval)
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}
	base := web.EngineDiagnoser{Library: lib, Detectors: opts.Detectors(), Timeout: opts.Timeout, Logs: cluster.LogOptions{Off: !opts.Logs}}
	if opts.Signals != nil {
		base.Detectors = append(base.Detectors, opts.Signals(lib.Cases)...)
	}
	if opts.Rules != nil {
		base.Detectors = append(base.Detectors, opts.Rules(lib)...)
	}
	if opts.Config != "" {
		if base.Exclusions, err = engine.LoadExclusions(opts.Config); err != nil {
			return usageErrorf("--config: %v", err)
		}
	}
	connect := opts.Connect
	if connect == nil {
		// Fail at once when there is no cluster configuration at all (not
		// in a pod, no kubeconfig); an unreachable cluster is retried.
		if err := agentHasCluster(opts.Cluster); err != nil {
			return err
		}
		connect = func(ctx context.Context) (casebook.Source, string, error) {
			src, desc, err := opts.Cluster.connect(ctx)
			if err != nil {
				return nil, "", err
			}
			return src, desc, nil
		}
	}
	var cases []agent.Case
	for _, d := range base.Detectors {
		if c, ok := lib.Get(d.CaseID()); ok {
			cases = append(cases, agent.Case{ID: c.ID, Severity: c.Severity})
		}
	}
	a := agent.New(agent.Options{
		// A new source per run: CRDs installed since (Gatekeeper's) are
		// discovered, and a cluster that was down is reconnected.
		Diagnose: func(ctx context.Context) (*casebook.Report, error) {
			src, desc, err := connect(ctx)
			if err != nil {
				return nil, err
			}
			d := base
			d.Name, d.Src = desc, src
			return d.Current(ctx)
		},
		Interval:   opts.Interval,
		RunTimeout: opts.RunTimeout,
		Cases:      cases,
		Log:        opts.IO.ErrOut,
	})

	var _ web.Diagnoser = a
	fsys, prefix := opts.CasesFS()
	// Every request reads the agent's last diagnosis, which costs nothing:
	// a one-second TTL makes the UI show each new one at once.
	srv, err := web.New(web.Options{Library: lib, CasesFS: fsys, Prefix: prefix, Diagnoser: a, DiagnoseTTL: time.Second, ErrorLog: opts.IO.ErrOut,
		AllowedHosts: append(serverHosts(opts.Addr, opts.AllowedHosts), inClusterHosts(agentServiceName)...)})
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(opts.IO.ErrOut, "casebook agent: serving %d cases and /metrics on %s, diagnosing every %s\n", len(lib.Cases), url, opts.Interval)
	if opts.Ready != nil {
		opts.Ready(url)
	}

	hs := web.NewHTTPServer(opts.Addr, a.Handler(srv.Handler()))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	loopCtx, stopLoop := context.WithCancel(ctx)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		_ = a.Run(loopCtx)
	}()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve on %s: %w", opts.Addr, err)
	case <-ctx.Done():
		fmt.Fprintln(opts.IO.ErrOut, "casebook agent: stopping")
	}
	stopLoop()
	<-loopDone
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
		serveErr = fmt.Errorf("stop the server: %w", err)
	}
	return serveErr
}

// agentHasCluster fails when the agent has no cluster to read: it is not in
// a pod (no ServiceAccount token) and no kubeconfig or --server names one.
// Without this check client-go would fall back to http://localhost:8080.
func agentHasCluster(o *ClusterOptions) error {
	if _, err := o.Flags.ToRESTConfig(); err != nil {
		return fmt.Errorf("no cluster to read: %w (in a pod the ServiceAccount is used; elsewhere pass --kubeconfig or --context)", err)
	}
	_, inClusterErr := rest.InClusterConfig()
	if inClusterErr == nil || (o.Flags.APIServer != nil && *o.Flags.APIServer != "") {
		return nil
	}
	raw, err := o.Flags.ToRawKubeConfigLoader().RawConfig()
	if err == nil && len(raw.Clusters) > 0 {
		return nil
	}
	return fmt.Errorf("no cluster to read: not in a pod (%v) and no kubeconfig; pass --kubeconfig or --context, or deploy it with deploy/casebook-agent.yaml", inClusterErr)
}
