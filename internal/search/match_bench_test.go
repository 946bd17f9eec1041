package search_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/casebook-dev/casebook/internal/search"
)

// describe2K is about 2 KB of `kubectl describe pod` output with the events
// of a failing wasm pod.
var describe2K = func() string {
	s := `Name:                wasm-hello-7c9d8f6b5-q2x7k
Namespace:           default
Priority:            0
Runtime Class Name:  wasmedge
Service Account:     default
Node:                edge-node-2/192.168.10.22
Start Time:          Tue, 04 Mar 2025 10:00:11 +0800
Labels:              app=wasm-hello
                     pod-template-hash=7c9d8f6b5
Status:              Running
IP:                  10.42.2.14
Controlled By:       ReplicaSet/wasm-hello-7c9d8f6b5
Containers:
  app:
    Container ID:   containerd://0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c
    Image:          ghcr.io/acme/wasm-hello:0.3
    Port:           8080/TCP
    State:          Running
      Started:      Tue, 04 Mar 2025 10:02:31 +0800
    Last State:     Terminated
      Reason:       Error
      Exit Code:    137
    Ready:          False
    Restart Count:  4
    Limits:
      cpu:     100m
      memory:  64Mi
    Liveness:       http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
    Readiness:      http-get http://:8080/ready delay=0s timeout=1s period=10s #success=1 #failure=3
Conditions:
  Type              Status
  Initialized       True
  Ready             False
  ContainersReady   False
  PodScheduled      True
Events:
  Type     Reason     Age                 From     Message
  ----     ------     ----                ----     -------
  Warning  Unhealthy  3m2s (x12 over 5m)  kubelet  Readiness probe failed: Get "http://10.42.2.14:8080/ready": dial tcp 10.42.2.14:8080: connect: connection refused
  Warning  Unhealthy  2m52s (x9 over 4m)  kubelet  Liveness probe failed: Get "http://10.42.2.14:8080/healthz": dial tcp 10.42.2.14:8080: connect: connection refused
  Normal   Killing    2m52s (x3 over 4m)  kubelet  Container app failed liveness probe, will be restarted
  Warning  BackOff    40s (x6 over 2m)    kubelet  Back-off restarting failed container app in pod wasm-hello-7c9d8f6b5-q2x7k_default
`
	return s[:min(len(s), 2048)]
}()

// journal10K is a 10,000-line k3s journal: routine lines with changing
// numbers, and the few lines of a certificate problem among them.
var journal10K = func() string {
	routine := []string{
		`level=info msg="Starting /v1, Kind=Secret controller"`,
		`I%04d 10:%02d:%02d.%06d    %d controller.go:615] quota admission added evaluator for: leases.coordination.k8s.io`,
		`level=info msg="Handling backend connection request [edge-%d]"`,
		`I%04d 10:%02d:%02d.%06d    %d trace.go:236] Trace[%d]: "List" url:/api/v1/pods,user-agent:kubectl/v1.31.4 (linux/amd64) (total time: %dms)`,
		`level=info msg="Tunnel server egress proxy mode: agent"`,
		`E%04d 10:%02d:%02d.%06d    %d watcher.go:115] failed to watch *v1.Endpoints: resourceVersion %d is too old`,
	}
	var b strings.Builder
	for i := 0; i < 10000; i++ {
		ts := fmt.Sprintf("Mar 01 10:%02d:%02d edge-server k3s[712]: ", (i/60)%60, i%60)
		b.WriteString(ts)
		switch {
		case i == 7001:
			b.WriteString(`level=error msg="Unable to connect to the server: x509: certificate has expired or is not yet valid: current time 2026-03-01T10:01:01Z is after 2026-02-27T11:04:10Z"`)
		case i == 7002:
			b.WriteString(`E0301 10:01:01.000001     712 authentication.go:73] "Unable to authenticate the request" err="[x509: certificate has expired or is not yet valid: current time 2026-03-01T10:01:01Z is after 2026-02-27T11:04:10Z, verifying certificate SN=1234, SKID=, AKID=AB:CD failed: x509: certificate has expired or is not yet valid]"`)
		default:
			f := routine[i%len(routine)]
			n := strings.Count(f, "%")
			args := []any{301, i % 60, i % 60, i * 37 % 1000000, 712, i, i % 900}
			b.WriteString(fmt.Sprintf(f, args[:n]...))
		}
		b.WriteByte('\n')
	}
	return b.String()
}()

func BenchmarkMatch2KB(b *testing.B) {
	m := matcher(b)
	b.SetBytes(int64(len(describe2K)))
	b.ResetTimer()
	for b.Loop() {
		if len(m.Match(describe2K, search.MatchOptions{})) == 0 {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchLog10000Lines(b *testing.B) {
	m := matcher(b)
	b.SetBytes(int64(len(journal10K)))
	b.ResetTimer()
	for b.Loop() {
		if len(m.Match(journal10K, search.MatchOptions{})) == 0 {
			b.Fatal("no match")
		}
	}
}

func BenchmarkNewMatcher(b *testing.B) {
	m := matcher(b)
	_ = m
	lib := libCases(b)
	for b.Loop() {
		search.NewMatcher(lib)
	}
}

// TestLongLog checks that a long log is matched by its few relevant lines,
// and that those lines, not the whole input, are quoted.
func TestLongLog(t *testing.T) {
	m := matcher(t)
	res := m.Match(journal10K, search.MatchOptions{})
	if len(res) == 0 || res[0].Case.ID != "K-006" {
		t.Fatalf("10,000-line journal: got %v, want K-006 first", ids(res))
	}
	quoted := 0
	for _, r := range res {
		for _, h := range r.Signals {
			if h.Line.Number < 7001 || h.Line.Number > 7003 {
				t.Errorf("%s: signal quoted from line %d, want 7002 or 7003", r.Case.ID, h.Line.Number)
			}
			quoted += len(h.Line.Text)
		}
		for _, l := range r.Lines {
			quoted += len(l.Text)
		}
	}
	if quoted > 4000 {
		t.Errorf("quoted %d bytes of a %d-byte input; want only the relevant lines", quoted, len(journal10K))
	}
}
