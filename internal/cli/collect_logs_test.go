package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// TestCollectKeepsLogTailsRedacted: collect keeps the log tails a diagnose
// reads (the troubled pods' and Gatekeeper's, not the healthy pod's),
// with a credential in a log hashed, and the API server's metrics
// filtered to the families detectors read; --logs=false keeps no log.
func TestCollectKeepsLogTailsRedacted(t *testing.T) {
	const token = "ghp_R7kq2Vx9LmN4pT8wYz3bC6dF1gH5jK0sA2eQ"
	src, err := snapshot.Load("../detectors/testdata/LOGS/broken")
	if err != nil {
		t.Fatal(err)
	}
	_, files := collectCorpus(t, src)
	logs := string(files["logs/sensors.yaml"])
	if !strings.Contains(logs, "Error: Capabilities insufficient (os error 76)") {
		t.Errorf("logs/sensors.yaml lacks the W-004 line:\n%s", logs)
	}
	if strings.Contains(logs, token) || !strings.Contains(logs, "GITHUB_TOKEN=<redacted:sha256:") {
		t.Errorf("the token in csv-import's log is not hashed:\n%s", logs)
	}
	if strings.Contains(logs, "csv-archive") {
		t.Errorf("the healthy pod's log was kept:\n%s", logs)
	}
	if !strings.Contains(string(files["logs/gatekeeper-system.yaml"]), "eval_conflict_error") {
		t.Errorf("Gatekeeper's log was not kept: %v", keys(files))
	}
	if !strings.Contains(string(files["redaction-report.json"]), "log(container app, previous)") {
		t.Errorf("the redaction report does not name the log:\n%s", files["redaction-report.json"])
	}

	bundle := t.TempDir() + "/b.tar.gz"
	ios, _, _, _ := TestStreams()
	opts := &CollectOptions{IO: ios, Output: bundle, Now: func() time.Time { return time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC) },
		Source: func(context.Context) (casebook.Source, string, error) { return src, "corpus", nil }, Logs: false}
	if err := collectRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	b, err := snapshot.Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if n := b.Kinds()["ContainerLog.casebook.dev"]; n != 0 {
		t.Errorf("--logs=false kept %d log tails", n)
	}

	msrc, err := snapshot.Load("../detectors/testdata/METRICS/broken")
	if err != nil {
		t.Fatal(err)
	}
	_, files = collectCorpus(t, msrc)
	m := string(files["cluster/servermetrics.yaml"])
	if !strings.Contains(m, `apiserver_current_inflight_requests{request_kind=\"mutating\"} 171`) && !strings.Contains(m, `apiserver_current_inflight_requests{request_kind="mutating"} 171`) {
		t.Errorf("metrics not kept:\n%s", m)
	}
	if !strings.Contains(m, "[-]etcd failed") {
		t.Errorf("readyz not kept:\n%s", m)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
