package detectors_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// TestRuntimeClassDeletedAfterAdmission covers the one W-009 cause a
// fixture cannot hold: the e2e test loads every broken fixture into a real
// API server, whose RuntimeClass admission plugin refuses a pod of a class
// that does not exist. Here W-009's broken fixture loses its RuntimeClasses
// (K3s restarted with --disable=runtimes) and the kubelet reports the
// lookup failure for the pod on edge-03; with the classes still there, the
// same message is not this cause.
func TestRuntimeClassDeletedAfterAdmission(t *testing.T) {
	for _, deleted := range []bool{false, true} {
		dir := t.TempDir()
		src := "testdata/W-009/broken"
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".yaml") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			switch {
			case e.Name() == "runtimeclasses.yaml" && deleted:
				s = "apiVersion: v1\nkind: List\nitems: []\n"
			case e.Name() == "events.yaml":
				s = strings.Replace(s, `Failed to create pod sandbox: rpc error: code = Unknown desc = unable to get OCI runtime for sandbox "8b0f5d1c9e2a4b7f": no runtime for "wasmedge" is configured`,
					`Failed to create pod sandbox: runtimeclass.node.k8s.io "wasmedge" not found`, 1)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		snap, err := snapshot.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := detectors.RuntimeNotConfigured{}.Detect(context.Background(), cluster.New(context.Background(), snap))
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, f := range fs {
			if f.Cause == "runtimeclass-deleted" {
				got = true
				if len(f.Objects) != 1 || f.Objects[0].Name != "img-resize-5f8c7d6b9c-2wq8d" {
					t.Errorf("runtimeclass-deleted on %v, want the pod img-resize-5f8c7d6b9c-2wq8d", f.Objects)
				}
			}
		}
		if got != deleted {
			t.Errorf("RuntimeClasses deleted %t: runtimeclass-deleted reported %t (findings %+v)", deleted, got, fs)
		}
	}
}
