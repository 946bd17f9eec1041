package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// engineServer is a server over the real detectors, for uploads.
func engineServer(t testing.TB, lim Limits) *Server {
	lib := embeddedLibrary(t)
	d := &EngineDiagnoser{Library: lib, Detectors: append(detectors.All(), detectors.SignalMatch(lib.Cases)...)}
	return newTestServer(t, Options{Library: lib, Diagnoser: d, Limits: lim})
}

// yamlPods is a YAML kind: List of n Pods, each with pad bytes of
// annotation and labels labels: as many YAML nodes or bytes per object as
// wanted.
func yamlPods(n, labels, pad int, prefix string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	padding := strings.Repeat("x", pad)
	for i := range n {
		fmt.Fprintf(&b, "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: %s-%d\n    namespace: shop\n", prefix, i)
		if pad > 0 {
			fmt.Fprintf(&b, "    annotations: {note: %s}\n", padding)
		}
		if labels > 0 {
			b.WriteString("    labels:\n")
			for l := range labels {
				fmt.Fprintf(&b, "      l%d: v\n", l)
			}
		}
	}
	return b.String()
}

// TestUploadLimitsAnswer: an upload beyond the object limits gets 413
// saying which, and one that holds no object 422; neither is diagnosed.
func TestUploadLimitsAnswer(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	h := engineServer(t, Limits{}).Handler()
	many := yamlPods(snapshot.DefaultLimits.MaxObjectsPerKind, 0, 0, "p")
	many = yamlPods(DefaultUploadLimits.MaxObjectsPerKind+1, 0, 0, "p")
	for _, tc := range []struct {
		name    string
		archive []byte
		status  int
		want    string
	}{
		{"objects of one kind", tarGz(t, tarEntry{name: "pods.yaml", body: many}), 413, "more than 50000 objects of kind Pod"},
		{"nothing readable", tarGz(t, tarEntry{name: "a.yaml", body: "{{{"}, tarEntry{name: "b.json", body: `{"a":1}`}), 422, "nothing was read"},
		{"no snapshot files", tarGz(t, tarEntry{name: "logs/x.log", body: "hello"}), 422, "nothing was read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, h, "POST", "/api/v1/diagnose", bytes.NewReader(tc.archive), "Content-Type", "application/gzip")
			if res.StatusCode != tc.status || !strings.Contains(res.Body, tc.want) || strings.Contains(res.Body, "--max") {
				t.Errorf("status %d, body %.300s; want %d and %q", res.StatusCode, res.Body, tc.status, tc.want)
			}
		})
	}
}

// peakHeap samples the heap in use until stop is closed.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// TestUploadMemoryCeiling uploads the worst cases that fit in the default
// limits, Limits.Uploads of them at once, and checks the heap of the
// server stays under the ceiling.
func TestUploadMemoryCeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads hundreds of MiB of YAML")
	}
	t.Setenv("TMPDIR", t.TempDir())
	srv := engineServer(t, Limits{})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	fileMax := int(DefaultUploadLimits.MaxFileBytes)
	perFile := func(sample string, n int) int { return n * (fileMax * 9 / 10) / len(sample) }
	worst := map[string][]byte{}
	// Tiny YAML nodes: the parse tree costs most per byte.
	nodes := func(prefix string) string {
		n := perFile(yamlPods(100, 40, 0, prefix), 100)
		return yamlPods(n, 40, 0, prefix)
	}
	worst["yaml nodes"] = tarGz(t, tarEntry{name: "a.yaml", body: nodes("a")}, tarEntry{name: "b.yaml", body: nodes("b")},
		tarEntry{name: "c.yaml", body: nodes("c")}, tarEntry{name: "d.yaml", body: nodes("d")})
	// Large strings: kept byte for byte.
	strs := func(prefix string) string {
		n := perFile(yamlPods(10, 0, 100_000, prefix), 10)
		return yamlPods(n, 0, 100_000, prefix)
	}
	worst["strings"] = tarGz(t, tarEntry{name: "a.yaml", body: strs("a")}, tarEntry{name: "b.yaml", body: strs("b")},
		tarEntry{name: "c.yaml", body: strs("c")}, tarEntry{name: "d.yaml", body: strs("d")})
	// As many objects as allowed, with nothing in them.
	worst["objects"] = tarGz(t, tarEntry{name: "a.yaml", body: yamlPods(DefaultUploadLimits.MaxObjectsPerKind, 0, 0, "a")},
		tarEntry{name: "b.yaml", body: strings.ReplaceAll(yamlPods(DefaultUploadLimits.MaxObjectsPerKind, 0, 0, "b"), "kind: Pod", "kind: ConfigMap")})

	const ceiling = 1 << 30
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	for name, archive := range worst {
		t.Run(name, func(t *testing.T) {
			runtime.GC()
			stop := make(chan struct{})
			peak := peakHeap(stop)
			var wg sync.WaitGroup
			statuses := make([]string, DefaultLimits.Uploads)
			start := time.Now()
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := http.Post(ts.URL+"/api/v1/diagnose", "application/gzip", bytes.NewReader(archive))
					if err != nil {
						statuses[i] = err.Error()
						return
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					statuses[i] = fmt.Sprintf("%d %.120s", res.StatusCode, body)
				}()
			}
			wg.Wait()
			close(stop)
			p := <-peak
			t.Logf("%d uploads of %d KiB at once: peak heap %d MiB (base %d MiB) in %v; answers %q",
				len(statuses), len(archive)>>10, p>>20, base.HeapInuse>>20, time.Since(start).Round(time.Millisecond), statuses)
			if p > ceiling {
				t.Errorf("peak heap %d MiB, over the %d MiB ceiling", p>>20, ceiling>>20)
			}
		})
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, ln := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(ln, "VmHWM") {
				t.Logf("process peak RSS: %s", strings.TrimSpace(strings.TrimPrefix(ln, "VmHWM:")))
			}
		}
	}
}
