package detectors

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// NodeJoinFailed finds K-001 as the server sees it: a node password Secret
// left behind by a node that is gone (the same hostname joining again from
// a reinstalled machine is rejected with "Node password rejected"), K3s
// nodes that registered but are not Ready because the agent lost the
// server or its network (flannel) never came up, and agents that run a
// newer K3s than the servers. The agent's own log, where most join errors
// are, is out of reach of the API; the findings say where to look.
type NodeJoinFailed struct{}

var (
	_ engine.Detector   = NodeJoinFailed{}
	_ engine.Stepper    = NodeJoinFailed{}
	_ engine.Translator = NodeJoinFailed{}
)

// CaseID returns "K-001".
func (NodeJoinFailed) CaseID() string { return "K-001" }

// Kinds lists the kinds the detector reads.
func (NodeJoinFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindNode, casebook.KindSecret}
}

// K3s keeps the hash of each node's /etc/rancher/node/password in
// kube-system/<node>.node-password.k3s.
const (
	nodePasswordSuffix    = ".node-password.k3s"
	nodePasswordNamespace = "kube-system"
)

// Detect checks node password Secrets against the Nodes, and every K3s
// node's readiness and version.
func (NodeJoinFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	nodes, err := r.nodes()
	if err != nil {
		return nil, err
	}
	secrets, err := cluster.List[metav1.PartialObjectMetadata](st, casebook.KindSecret, casebook.AllNamespaces)
	secretsOK, err := r.optional(err)
	if err != nil {
		return nil, err
	}
	var out []casebook.Finding
	if secretsOK {
		out = append(out, stalePasswords(secrets, nodes)...)
	}
	for _, n := range nodes {
		if f, ok := notReadyNode(n); ok {
			out = append(out, f)
		}
	}
	out = append(out, agentsNewerThanServers(nodes)...)
	return r.done(out)
}

// stalePasswords finds node password Secrets whose Node does not exist.
func stalePasswords(secrets []*metav1.PartialObjectMetadata, nodes []*corev1.Node) []casebook.Finding {
	have := map[string]bool{}
	for _, n := range nodes {
		have[n.Name] = true
	}
	var out []casebook.Finding
	for _, s := range secrets {
		if s.GetNamespace() != nodePasswordNamespace || !strings.HasSuffix(s.GetName(), nodePasswordSuffix) || s.GetDeletionTimestamp() != nil {
			continue
		}
		node := strings.TrimSuffix(s.GetName(), nodePasswordSuffix)
		if node == "" || have[node] {
			continue
		}
		out = append(out, casebook.Finding{CaseID: "K-001", Cause: "stale-node-password",
			Objects: []casebook.ObjectRef{ref(casebook.KindSecret, s)},
			Message: "a node password Secret outlives its Node: a machine joining under that name with a new /etc/rancher/node/password is rejected (\"Node password rejected, duplicate hostname ...\")",
			Evidence: []casebook.Evidence{
				quote(casebook.KindSecret, objName(s.GetNamespace(), s.GetName()), "exists (node password hash of node %s; read as metadata only)", node),
				quote(casebook.KindNode, node, "not found; nodes: %s", nodeNames(nodes)),
			}})
	}
	return out
}

// isK3sNode reports whether a node runs K3s.
func isK3sNode(n *corev1.Node) bool {
	return strings.HasPrefix(n.Spec.ProviderID, "k3s://") || n.Annotations["k3s.io/node-args"] != "" ||
		strings.Contains(n.Status.NodeInfo.KubeletVersion, "+k3s")
}

// notReadyNode finds a K3s node that is registered but not Ready for a
// reason of this case: the agent stopped reporting (it lost the server:
// port 6443, token, node password, a restart that did not come back), or
// the node network never came up (flannel: UDP 8472, the wrong interface).
// A cordoned node is taken to be down for maintenance.
func notReadyNode(n *corev1.Node) (casebook.Finding, bool) {
	c := nodeCondition(n, corev1.NodeReady)
	if c == nil || c.Status == corev1.ConditionTrue || n.Spec.Unschedulable || !isK3sNode(n) {
		return casebook.Finding{}, false
	}
	var cause, msg string
	switch {
	case c.Status == corev1.ConditionUnknown:
		cause = "agent-not-reporting"
		msg = "the node's K3s agent stopped reporting to the server: its connection to port 6443 is gone, or it restarted and was refused (token, node password, version)"
	case c.Status == corev1.ConditionFalse && networkNotReady(c.Message):
		cause = "node-network-not-ready"
		msg = "the node registered but its network never came up: flannel has no usable interface or peers (UDP 8472 blocked, a NAT address, the wrong interface)"
	default:
		return casebook.Finding{}, false
	}
	ev := []casebook.Evidence{quote(casebook.KindNode, n.Name, "condition Ready=%s reason %s: %s (lastHeartbeatTime %s, lastTransitionTime %s)", c.Status, c.Reason, c.Message, c.LastHeartbeatTime.UTC().Format("2006-01-02T15:04:05Z"), c.LastTransitionTime.UTC().Format("2006-01-02T15:04:05Z"))}
	for _, t := range n.Spec.Taints {
		if strings.HasPrefix(t.Key, "node.kubernetes.io/") {
			ev = append(ev, quote(casebook.KindNode, n.Name, "taint %s:%s", t.Key, t.Effect))
		}
	}
	var addrs []string
	for _, a := range []string{"k3s.io/internal-ip", "flannel.alpha.coreos.com/public-ip", "k3s.io/node-args"} {
		if v := n.Annotations[a]; v != "" {
			addrs = append(addrs, a+": "+v)
		}
	}
	if len(addrs) > 0 {
		ev = append(ev, quote(casebook.KindNode, n.Name, "annotations %s", strings.Join(addrs, ", ")))
	}
	ev = append(ev, quote(casebook.KindNode, n.Name, "kubeletVersion %s", n.Status.NodeInfo.KubeletVersion))
	return casebook.Finding{CaseID: "K-001", Cause: cause, Objects: []casebook.ObjectRef{ref(casebook.KindNode, n)}, Message: msg, Evidence: ev}, true
}

// networkNotReady reports whether a Ready=False message is the kubelet
// waiting for the pod network (the CNI, flannel on K3s).
func networkNotReady(msg string) bool {
	return strings.Contains(msg, "NetworkReady=false") || strings.Contains(msg, "cni plugin not initialized") || strings.Contains(msg, "NetworkPluginNotReady")
}

// isServerNode reports whether a node is a K3s server (control plane).
func isServerNode(n *corev1.Node) bool {
	return n.Labels["node-role.kubernetes.io/control-plane"] == "true" || n.Labels["node-role.kubernetes.io/master"] == "true"
}

// k3sVersion is a K3s version, v1.31.4+k3s1, as numbers to compare.
type k3sVersion [4]int

var k3sVersionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]*?k3s(\d+))?`)

func parseK3sVersion(s string) (k3sVersion, bool) {
	m := k3sVersionRE.FindStringSubmatch(s)
	if m == nil {
		return k3sVersion{}, false
	}
	var v k3sVersion
	for i := 0; i < 4; i++ {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, true
}

func (v k3sVersion) less(o k3sVersion) bool {
	for i := range v {
		if v[i] != o[i] {
			return v[i] < o[i]
		}
	}
	return false
}

// agentsNewerThanServers finds agents whose kubelet is newer than the
// oldest server's: K3s supports servers newer than agents, never the
// reverse.
func agentsNewerThanServers(nodes []*corev1.Node) []casebook.Finding {
	var oldest *corev1.Node
	var oldestV k3sVersion
	for _, n := range nodes {
		if !isServerNode(n) || !isK3sNode(n) {
			continue
		}
		v, ok := parseK3sVersion(n.Status.NodeInfo.KubeletVersion)
		if ok && (oldest == nil || v.less(oldestV)) {
			oldest, oldestV = n, v
		}
	}
	if oldest == nil {
		return nil
	}
	var out []casebook.Finding
	for _, n := range nodes {
		if isServerNode(n) || !isK3sNode(n) {
			continue
		}
		v, ok := parseK3sVersion(n.Status.NodeInfo.KubeletVersion)
		if !ok || !oldestV.less(v) {
			continue
		}
		out = append(out, casebook.Finding{CaseID: "K-001", Cause: "agent-newer-than-server",
			Objects: []casebook.ObjectRef{ref(casebook.KindNode, n)},
			Message: "an agent runs a newer K3s than the server: servers may be newer than agents, never the reverse",
			Evidence: []casebook.Evidence{
				quote(casebook.KindNode, n.Name, "(agent) kubeletVersion %s", n.Status.NodeInfo.KubeletVersion),
				quote(casebook.KindNode, oldest.Name, "(server) kubeletVersion %s", oldest.Status.NodeInfo.KubeletVersion),
			}})
	}
	return out
}

// k001Steps are the next steps of NodeJoinFailed findings, by cause.
var k001Steps = stepsByCause{
	"stale-node-password": {
		{Step: 5, Kind: casebook.KindSecret, Cmd: `kubectl -n kube-system describe secret %name%`},
	},
	"agent-newer-than-server": {
		{Step: 7, Kind: casebook.KindNode, Cmd: `kubectl get node %name% -o wide`},
	},
	"": {
		{Step: 6, Kind: casebook.KindNode, Cmd: `kubectl describe node %name%`},
		{Step: 1, Kind: casebook.KindNode, Cmd: `journalctl -u k3s-agent --no-pager -n 200`, OnNode: true},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (NodeJoinFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return k001Steps.of(f.Cause)
}

// k001ZH are the messages of NodeJoinFailed findings in Chinese, by cause.
var k001ZH = zhByCause{
	"stale-node-password":     `节点密码 Secret 比它的 Node 活得久：同名机器带着新的 /etc/rancher/node/password 加入时会被拒绝（"Node password rejected, duplicate hostname ..."）`,
	"agent-not-reporting":     `节点的 K3s agent 不再向 server 汇报：它到 6443 端口的连接断了，或它重启后被拒绝（token、节点密码、版本）`,
	"node-network-not-ready":  `节点已注册，但网络始终没有起来：flannel 没有可用的网卡或对端（UDP 8472 被拦、NAT 地址、选错网卡）`,
	"agent-newer-than-server": `agent 运行的 K3s 比 server 新：server 可以比 agent 新，反过来不行`,
}

// MessageZH returns the finding's message in Chinese.
func (NodeJoinFailed) MessageZH(f *casebook.Finding) string { return k001ZH.of(f.Cause) }
