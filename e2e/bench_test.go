package e2e

import (
	"context"
	"fmt"
	cstate "github.com/casebook-dev/casebook/internal/cluster"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/benchdata"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/live"
)

// The live benchmarks need a cluster of their own, loaded with the
// benchmark cluster (which takes a few minutes), so they run only when
// asked:
//
//	CASEBOOK_E2E_WORK=/tmp/casebook-bench scripts/e2e-env.sh up  # then export what it prints
//	CASEBOOK_E2E_BENCH=1 go test ./e2e -run TestLoadBenchCluster -timeout 30m
//	CASEBOOK_E2E_BENCH=1 go test ./e2e -run '^$' -bench Live -benchtime 5x
func benchCluster(t testing.TB) *cluster {
	t.Helper()
	if os.Getenv("CASEBOOK_E2E_BENCH") != "1" {
		t.Skip("set CASEBOOK_E2E_BENCH=1 (and use a separate e2e API server) to run the live benchmarks")
	}
	return connect(t)
}

// TestLoadBenchCluster loads the benchmark cluster into the API server:
// 500 nodes, 5,000 pods, 1,000 services, 50,000 events and the rest.
func TestLoadBenchCluster(t *testing.T) {
	c := benchCluster(t)
	ctx := context.Background()
	if _, err := c.kube.CoreV1().Namespaces().Get(ctx, "app-49", metav1.GetOptions{}); err == nil {
		t.Skip("already loaded")
	}
	gen := benchdata.Generate(benchdata.Default)
	start := time.Now()
	for _, ns := range gen.Namespaces {
		c.ensureNamespace(t, ns.Name)
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
		if _, err := c.kube.CoreV1().ServiceAccounts(ns.Name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	work := make(chan runtime.Object)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := createBench(ctx, c.kube, o); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, o := range gen.Objects() {
		if _, ok := o.(*corev1.Namespace); ok {
			continue
		}
		work <- o
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	t.Logf("loaded %d objects in %s", len(gen.Objects()), time.Since(start).Round(time.Second))
}

func createBench(ctx context.Context, kc kubernetes.Interface, o runtime.Object) error {
	opts := metav1.CreateOptions{}
	var err error
	switch v := o.(type) {
	case *corev1.Node:
		var n *corev1.Node
		if n, err = kc.CoreV1().Nodes().Create(ctx, v, opts); err == nil {
			n.Status = v.Status
			n.Spec.Taints = nil
			if n, err = kc.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err == nil {
				n.Spec.Taints = nil
				_, err = kc.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			}
		}
	case *corev1.Pod:
		var p *corev1.Pod
		if p, err = kc.CoreV1().Pods(v.Namespace).Create(ctx, v, opts); err == nil {
			p.Status = v.Status
			_, err = kc.CoreV1().Pods(v.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		}
	case *corev1.Service:
		v.Spec.ClusterIP = ""
		_, err = kc.CoreV1().Services(v.Namespace).Create(ctx, v, opts)
	case *corev1.Event:
		_, err = kc.CoreV1().Events(v.Namespace).Create(ctx, v, opts)
	case *corev1.PersistentVolumeClaim:
		var p *corev1.PersistentVolumeClaim
		if p, err = kc.CoreV1().PersistentVolumeClaims(v.Namespace).Create(ctx, v, opts); err == nil {
			p.Status = v.Status
			_, err = kc.CoreV1().PersistentVolumeClaims(v.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		}
	default:
		err = createTyped(ctx, kc, o)
	}
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// benchKinds are the kinds the detectors read.
var benchKinds = []casebook.Kind{casebook.KindPod, casebook.KindNode, casebook.KindEvent, casebook.KindService,
	casebook.KindEndpointSlice, casebook.KindIngress, casebook.KindIngressClass, casebook.KindSecret,
	casebook.KindPersistentVolumeClaim, casebook.KindPersistentVolume, casebook.KindStorageClass}

// BenchmarkLiveListOnly is the yardstick: a paginated, parallel client-go
// list of the kinds the detectors read, and nothing else.
func BenchmarkLiveListOnly(b *testing.B) {
	c := benchCluster(b)
	kc := kubernetes.NewForConfigOrDie(benchConfig(c.admin))
	ctx := context.Background()
	lists := map[string]pager.ListPageFunc{
		"pods": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.CoreV1().Pods("").List(ctx, o)
		},
		"nodes": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.CoreV1().Nodes().List(ctx, o)
		},
		"events": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.CoreV1().Events("").List(ctx, o)
		},
		"services": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.CoreV1().Services("").List(ctx, o)
		},
		"endpointslices": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.DiscoveryV1().EndpointSlices("").List(ctx, o)
		},
		"ingresses": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.NetworkingV1().Ingresses("").List(ctx, o)
		},
		"pvcs": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.CoreV1().PersistentVolumeClaims("").List(ctx, o)
		},
		"pvs": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.CoreV1().PersistentVolumes().List(ctx, o)
		},
		"storageclasses": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kc.StorageV1().StorageClasses().List(ctx, o)
		},
	}
	for b.Loop() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for name, f := range lists {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				p := pager.New(f)
				p.PageSize = 500
				n := 0
				if err := p.EachListItem(ctx, metav1.ListOptions{}, func(runtime.Object) error { n++; return nil }); err != nil {
					b.Errorf("%s: %v", name, err)
				}
			}()
		}
		wg.Wait()
	}
}

// BenchmarkLiveDiagnose diagnoses the loaded cluster live: casebook's live
// source (read-only guard, paginated, four lists at a time) under the CLI's
// detector set (dedicated detectors and signal matches).
func BenchmarkLiveDiagnose(b *testing.B) { benchLiveDiagnose(b, cstate.LogOptions{}) }

// BenchmarkLiveDiagnoseLogsOff is BenchmarkLiveDiagnose with --logs=false,
// side by side: the difference is what reading logs costs a run.
func BenchmarkLiveDiagnoseLogsOff(b *testing.B) { benchLiveDiagnose(b, cstate.LogOptions{Off: true}) }

func benchLiveDiagnose(b *testing.B, logs cstate.LogOptions) {
	c := benchCluster(b)
	ctx := context.Background()
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		b.Fatal(err)
	}
	ds := detectors.Set(lib.Cases)
	for b.Loop() {
		src, err := live.New(c.admin, live.Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := engine.Run(ctx, src, ds, engine.Options{Case: lib.Get, Logs: logs})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Findings) == 0 {
			b.Fatal("no findings")
		}
	}
}

func benchConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 50, 100
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return c
}

func createTyped(ctx context.Context, kc kubernetes.Interface, o runtime.Object) error {
	opts := metav1.CreateOptions{}
	var err error
	switch v := o.(type) {
	case *discoveryv1.EndpointSlice:
		_, err = kc.DiscoveryV1().EndpointSlices(v.Namespace).Create(ctx, v, opts)
	case *storagev1.StorageClass:
		_, err = kc.StorageV1().StorageClasses().Create(ctx, v, opts)
	case *networkingv1.IngressClass:
		_, err = kc.NetworkingV1().IngressClasses().Create(ctx, v, opts)
	case *networkingv1.Ingress:
		_, err = kc.NetworkingV1().Ingresses(v.Namespace).Create(ctx, v, opts)
	default:
		err = fmt.Errorf("benchmark loader cannot create %T", o)
	}
	return err
}
