package benchdata

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casebook-dev/casebook/internal/snapshot"
)

// ratioBaseline is the committed ratio of `casebook diagnose --snapshot`'s
// CPU time to the CPU time of a process that only loads the same snapshot.
const ratioBaseline = "testdata/diagnose-ratio.txt"

// TestHelperLoadOnly is the yardstick process: it loads the snapshot in
// CASEBOOK_LOAD_ONLY and exits. It does nothing in a normal test run.
func TestHelperLoadOnly(t *testing.T) {
	dir := os.Getenv("CASEBOOK_LOAD_ONLY")
	if dir == "" {
		t.Skip("the load-only yardstick of TestDiagnoseCostRatio")
	}
	if _, err := snapshot.Load(dir); err != nil {
		t.Fatal(err)
	}
}

// TestDiagnoseCostRatio is the CI regression check of the process-level
// figure: it runs `casebook diagnose --snapshot` on the bench cluster and,
// side by side in the same run, a process that only loads that snapshot,
// and compares the ratio of their CPU times (median of five each, taken in
// turn) with the committed baseline. It fails when the ratio grows by more
// than 30 %. A ratio of two processes measured together holds on a busy or
// a faster machine, where an absolute time would not. Set
// CASEBOOK_BENCH_CHECK=1 to run it; CASEBOOK_BENCH_CHECK=update writes the
// baseline.
func TestDiagnoseCostRatio(t *testing.T) {
	mode := os.Getenv("CASEBOOK_BENCH_CHECK")
	if mode == "" {
		t.Skip("set CASEBOOK_BENCH_CHECK=1 to run the process-level regression check")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "casebook")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/casebook").CombinedOutput(); err != nil {
		t.Fatalf("build casebook: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "cluster")
	if err := Generate(Default).WriteDump(dir); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cpu := func(cmd *exec.Cmd) time.Duration {
		cmd.Stdout, cmd.Stderr = nil, nil
		err := cmd.Run()
		if cmd.ProcessState == nil {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 && code != 3 { // 3: findings, as expected
			t.Fatalf("%v: exit %d", cmd.Args, code)
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var diag, load []time.Duration
	for range 5 {
		diag = append(diag, cpu(exec.Command(bin, "diagnose", "--snapshot", dir, "-o", "json")))
		c := exec.Command(self, "-test.run=^TestHelperLoadOnly$")
		c.Env = append(os.Environ(), "CASEBOOK_LOAD_ONLY="+dir)
		load = append(load, cpu(c))
	}
	ratio := float64(median(diag)) / float64(median(load))
	t.Logf("diagnose %v CPU, load only %v CPU (medians of 5): ratio %.2f", median(diag), median(load), ratio)
	if mode == "update" {
		if err := os.WriteFile(ratioBaseline, []byte(fmt.Sprintf("%.2f\n", ratio)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(ratioBaseline)
	if err != nil {
		t.Fatalf("%v (CASEBOOK_BENCH_CHECK=update writes it)", err)
	}
	base, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil {
		t.Fatalf("%s: %v", ratioBaseline, err)
	}
	if ratio > base*1.3 {
		t.Errorf("diagnose costs %.2f× loading the snapshot, %.0f%% more than the baseline %.2f× (limit +30%%)", ratio, (ratio/base-1)*100, base)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
