package e2e

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	casebook "github.com/casebook-dev/casebook"
	repros "github.com/casebook-dev/casebook/cases/reproduce"
	"github.com/casebook-dev/casebook/internal/cli"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/live"
	"github.com/casebook-dev/casebook/internal/reproduce"
)

// connectLab returns the lab cluster scripts/lab-env.sh started (an API
// server with controller-manager, scheduler and kwok nodes), or skips;
// with CASEBOOK_REQUIRE_LAB=1 a missing lab fails instead.
func connectLab(t *testing.T) (*rest.Config, string) {
	t.Helper()
	kc := os.Getenv("CASEBOOK_LAB_KUBECONFIG")
	if kc == "" {
		if os.Getenv("CASEBOOK_REQUIRE_LAB") == "1" {
			t.Fatal("CASEBOOK_REQUIRE_LAB=1 but CASEBOOK_LAB_KUBECONFIG is unset: start the lab with scripts/lab-env.sh up")
		}
		t.Skip("no lab cluster: run `eval \"$(scripts/lab-env.sh up)\"` first (CASEBOOK_LAB_KUBECONFIG unset)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatalf("load %s: %v", kc, err)
	}
	return cfg, kc
}

// TestLabReproductions runs every reproduction on the lab cluster: broken
// is applied, the real scheduler, controllers and kwok act, and live
// diagnose (read-only, through the guard) must report the case; the fix is
// applied and the finding must clear; everything is removed.
func TestLabReproductions(t *testing.T) {
	cfg, _ := connectLab(t)
	lib := library(t)
	all, err := reproduce.LoadAll(repros.FS())
	if err != nil {
		t.Fatal(err)
	}
	lab, err := reproduce.NewLab(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range reproduce.IDs(all) {
		r := all[id]
		t.Run(id, func(t *testing.T) {
			rec := &recorder{}
			src, err := live.New(cfg, live.Options{Namespace: r.Namespace(), WrapTransport: rec.wrap})
			if err != nil {
				t.Fatal(err)
			}
			res, err := reproduce.Run(context.Background(), lab, r, reproduce.RunOptions{
				Diagnose: func(ctx context.Context) ([]casebook.Finding, error) {
					return diagnose(t, src, lib).Findings, nil
				},
				Poll:     time.Second,
				Progress: func(format string, args ...any) { t.Logf(format, args...) },
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range res.Broken {
				t.Logf("finding %s [%s] %v: %s", f.CaseID, f.Cause, f.Objects, f.Message)
				for _, e := range f.Evidence {
					t.Logf("  evidence: %s", e)
				}
			}
			t.Logf("%s appeared after %s, cleared %s after the fix; removed %v", id, res.AppearedAfter.Round(time.Millisecond), res.ClearedAfter.Round(time.Millisecond), res.Removed)
			rec.check(t)
			assertGone(t, cfg, r.Namespace())
		})
	}
}

func assertGone(t *testing.T, cfg *rest.Config, ns string) {
	t.Helper()
	kc := kubernetes.NewForConfigOrDie(cfg)
	if _, err := kc.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s is still there after cleanup (err %v)", ns, err)
	}
}

// TestLabReproduceCLI runs `casebook reproduce K-002` as a user would:
// without confirmation it refuses and creates nothing; with --yes it
// first removes what a crashed run left, then reproduces, fixes and cleans
// up.
func TestLabReproduceCLI(t *testing.T) {
	cfg, kc := connectLab(t)
	ctx := context.Background()
	const ns = "casebook-lab-k-002"
	run := func(stdin string, args ...string) (int, string, string) {
		io, in, out, errOut := cli.TestStreams()
		in.WriteString(stdin)
		f := &cli.Factory{IO: io, DetectedCases: detectors.IDs}
		code := cli.Run(ctx, f, args)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := run("", "reproduce", "K-002", "--kubeconfig", kc)
	if code != cli.ExitError || !strings.Contains(errOut, "not confirmed") {
		t.Fatalf("without confirmation: exit %d, stderr %s\n%s", code, errOut, out)
	}
	assertGone(t, cfg, ns)

	// A crashed run's leftovers: the labelled namespace with a pod in it.
	kube := kubernetes.NewForConfigOrDie(cfg)
	leftover, err := reproduce.LoadAll(repros.FS())
	if err != nil {
		t.Fatal(err)
	}
	lab, err := reproduce.NewLab(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.CreateNamespace(ctx, leftover["K-002"]); err != nil {
		t.Fatal(err)
	}
	if err := lab.Apply(ctx, leftover["K-002"].Prepared(leftover["K-002"].Broken)); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = run("", "reproduce", "K-002", "--kubeconfig", kc, "--yes", "--poll", "1s")
	t.Logf("reproduce output:\n%s", out)
	if code != cli.ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"removed what an earlier run left: [Namespace casebook-lab-k-002]", "finding K-002", "K-002 found after", "K-002 cleared after", "removed: Namespace casebook-lab-k-002"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if _, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s left behind", ns)
	}
}

// TestLabReproduceInterrupted cancels a run once the case is found, as
// Ctrl-C does: the run must still remove everything it created.
func TestLabReproduceInterrupted(t *testing.T) {
	cfg, _ := connectLab(t)
	lib := library(t)
	all, err := reproduce.LoadAll(repros.FS())
	if err != nil {
		t.Fatal(err)
	}
	r := all["W-007"] // it has a cluster-scoped RuntimeClass to remove too
	lab, err := reproduce.NewLab(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := live.New(cfg, live.Options{Namespace: r.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := reproduce.Run(ctx, lab, r, reproduce.RunOptions{
		Diagnose: func(ctx context.Context) ([]casebook.Finding, error) { return diagnose(t, src, lib).Findings, nil },
		Poll:     time.Second,
		Progress: func(format string, args ...any) {
			if strings.HasPrefix(format, "%s found after") {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := strings.Join(res.Removed, ", "); got != "RuntimeClass casebook-lab-wasmedge, Namespace casebook-lab-w-007" {
		t.Errorf("removed %q", got)
	}
	assertGone(t, cfg, r.Namespace())
	kc := kubernetes.NewForConfigOrDie(cfg)
	if _, err := kc.NodeV1().RuntimeClasses().Get(context.Background(), "casebook-lab-wasmedge", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("RuntimeClass casebook-lab-wasmedge left behind (err %v)", err)
	}
}
