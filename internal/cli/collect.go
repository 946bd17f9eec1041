package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
	"github.com/casebook-dev/casebook/internal/progress"
	"github.com/casebook-dev/casebook/internal/redact"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// CollectOptions are the inputs of `casebook collect`.
type CollectOptions struct {
	IO      *IOStreams
	Cluster *ClusterOptions
	Output  string
	// RedactConfig is a file of extra scanner rules in gitleaks' TOML format.
	RedactConfig string
	// Source replaces the live cluster in tests.
	Source func(ctx context.Context) (casebook.Source, string, error)
	Now    func() time.Time
	// Progress, when set, returns what shows the collection's progress.
	Progress func(what string, kinds, detectors int) progress.Observer
	// Logs collects the log tails of troubled pods (--logs).
	Logs bool
}

// NewCmdCollect builds `casebook collect`.
func NewCmdCollect(f *Factory, runF func(*CollectOptions) error) *cobra.Command {
	opts := &CollectOptions{IO: f.IO, Now: time.Now, Progress: f.progress}
	cmd := &cobra.Command{
		Use:   "collect -o bundle.tar.gz [cluster flags]",
		Short: "Capture a cluster's state as a snapshot to diagnose later, elsewhere",
		Long: `Read the kinds casebook's detectors need (events included) from a live
cluster and write them to a .tar.gz snapshot that 'casebook diagnose
--snapshot' reads, so a cluster at the edge can be captured now and
diagnosed later on another machine.

Nothing secret leaves the cluster. Secrets are read as metadata only,
without the annotations that can hold a copy of their data. Every value
casebook's detectors do not read by name (environment values, command-line
arguments, HTTP header values, annotations, ConfigMap values, custom
resources' specs) is replaced by a keyed hash, <redacted:sha256:...>: an
HMAC under a random key made for this bundle and not kept, so equal values
stay equal and the values do not leave. What is kept (names, statuses,
events, the annotations and flags detectors read) is scanned with gitleaks'
rules and casebook's, and every hit is hashed too. The bundle's
redaction-report.json says what was hashed or dropped, by rule and path.
--redact-config adds a team's own rules, in gitleaks' TOML format
([[rules]] with id, regex, optional secretGroup and keywords). Reading is
get/list only, as for diagnose.`,
		Example: `  casebook collect -o edge-1.tar.gz --context edge-1
  casebook collect -o edge-1.tar.gz --redact-config team-rules.toml
  casebook diagnose --snapshot edge-1.tar.gz`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return collectRun(cmd.Context(), opts)
		},
	}
	opts.Cluster = newClusterOptions(cmd)
	opts.Source = func(ctx context.Context) (casebook.Source, string, error) {
		s, desc, err := opts.Cluster.connect(ctx)
		return s, desc, err
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write the bundle to `FILE` (.tar.gz; - for standard output)")
	cmd.Flags().BoolVar(&opts.Logs, "logs", true, "keep the log tails (300 lines, 64 KiB each, 4 MiB in all) of pods that crash, restart or are not Ready, scanned for credentials")
	cmd.Flags().StringVar(&opts.RedactConfig, "redact-config", "", "add the secret-scanner rules in `FILE` (gitleaks TOML format) to the built-in ones")
	return cmd
}

func collectRun(ctx context.Context, opts *CollectOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Output == "" {
		return usageErrorf("collect needs -o FILE.tar.gz (or -o - for standard output)")
	}
	if opts.Output != "-" && !strings.HasSuffix(opts.Output, ".tar.gz") && !strings.HasSuffix(opts.Output, ".tgz") {
		return usageErrorf("-o %s: the bundle is a .tar.gz; name it so", opts.Output)
	}
	var team []byte
	if opts.RedactConfig != "" {
		var err error
		if team, err = os.ReadFile(opts.RedactConfig); err != nil {
			return usageErrorf("--redact-config: %v", err)
		}
	}
	red, err := redact.New(redact.Options{TeamRules: team})
	if err != nil {
		return usageErrorf("--redact-config %s: %v", opts.RedactConfig, err)
	}
	src, desc, err := opts.Source(ctx)
	if err != nil {
		return err
	}
	var prog progress.Observer
	if opts.Progress != nil {
		prog = opts.Progress("collect", 0, 0)
		defer progress.Done(prog) // on the error paths
		src = progress.Source(src, prog)
	}
	var buf bytes.Buffer
	w := snapshot.NewWriter(&buf, opts.Now().UTC(), red)
	var notes []string
	objects := 0
	var pods []runtime.Object
	for _, info := range kube.Builtins() {
		objs, err := src.List(ctx, info.Kind, casebook.AllNamespaces)
		if err != nil {
			if errors.Is(err, casebook.ErrForbidden) || errors.Is(err, casebook.ErrNotServed) {
				fmt.Fprintf(opts.IO.ErrOut, "%s %v (not in the bundle)\n", opts.IO.Style(styleYellow, "warning:"), err)
				notes = append(notes, fmt.Sprintf("- %v (not in the bundle)", err))
				continue
			}
			return err
		}
		if err := w.Add(info, objs); err != nil {
			return err
		}
		if info.Kind == casebook.KindPod {
			pods = objs
		}
		objects += len(objs)
	}
	custom, err := collectCustom(ctx, src, w, func(err error) {
		fmt.Fprintf(opts.IO.ErrOut, "%s %v (not in the bundle)\n", opts.IO.Style(styleYellow, "warning:"), err)
		notes = append(notes, fmt.Sprintf("- %v (not in the bundle)", err))
	})
	if err != nil {
		return err
	}
	objects += custom
	extra, err := collectLogsAndMetrics(ctx, src, pods, opts.Logs, w, red, func(err error) {
		fmt.Fprintf(opts.IO.ErrOut, "%s %v (not in the bundle)\n", opts.IO.Style(styleYellow, "warning:"), err)
		notes = append(notes, fmt.Sprintf("- %v (not in the bundle)", err))
	})
	if err != nil {
		return err
	}
	objects += extra
	progress.Done(prog)
	readme := fmt.Sprintf(`casebook snapshot bundle

Collected: %s
From: %s
Objects: %d

Read it with: casebook diagnose --snapshot <this file>

Secrets are metadata only. Every value casebook's detectors do not read
by name, and every credential a scanner found in the rest, is replaced by
a keyed hash (%s...>) made with a key that was not kept.
redaction-report.json says what was hashed or dropped, and why.
`, opts.Now().UTC().Format(time.RFC3339), desc, objects, redact.HashPrefix)
	if len(notes) > 0 {
		readme += "\nNot collected:\n" + strings.Join(notes, "\n") + "\n"
	}
	report, err := red.ReportJSON()
	if err != nil {
		return err
	}
	if err := w.File(snapshot.ReportFile, report); err != nil {
		return err
	}
	if err := w.File("README.txt", []byte(readme)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if opts.Output == "-" {
		_, err := io.Copy(opts.IO.Out, &buf)
		return err
	}
	tmp := opts.Output + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, opts.Output); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %s: %d objects in %d files from %s\n", filepath.Clean(opts.Output), objects, w.Files(), desc)
	return nil
}
