package detectors

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// PodCrossNodeCommunicationFailed finds N-001 from what the API server
// knows of the overlay network: nodes whose flannel registered the same
// public IP (VXLAN sends every node's traffic to one host), flannel
// tunnelling from another address than the --node-ip the node was given
// (it took the default-route interface), nodes where flannel never
// registered, nodes that report NetworkUnavailable, and servers that
// disagree on the flannel backend. Blocked UDP 8472, host firewalls, MTU
// and checksum offload leave no trace in the API and are not guessed at.
type PodCrossNodeCommunicationFailed struct{}

var (
	_ engine.Detector   = PodCrossNodeCommunicationFailed{}
	_ engine.Stepper    = PodCrossNodeCommunicationFailed{}
	_ engine.Translator = PodCrossNodeCommunicationFailed{}
)

// CaseID returns "N-001".
func (PodCrossNodeCommunicationFailed) CaseID() string { return "N-001" }

// Kinds lists the kinds the detector reads.
func (PodCrossNodeCommunicationFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindNode}
}

// flannel's node annotations (flannel-io/flannel subnet/kube).
const (
	flannelPublicIP    = "flannel.alpha.coreos.com/public-ip"
	flannelBackendType = "flannel.alpha.coreos.com/backend-type"
	flannelBackendData = "flannel.alpha.coreos.com/backend-data"
)

// Detect checks every node's flannel registration.
func (PodCrossNodeCommunicationFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	nodes, err := r.nodes()
	if err != nil {
		return nil, err
	}
	// The state lists nodes sorted by name, and shares the list: no sorting here.

	// What the servers say about flannel: the backend each one runs with,
	// and whether flannel tunnels to the nodes' external IPs.
	backends := map[string][]*corev1.Node{}
	var backendOrder []string
	externalIP := false
	for _, n := range nodes {
		args := nodeArgs(st, n)
		if len(args) == 0 || args[0] != "server" {
			continue
		}
		b := k3sFlagValue(args, "--flannel-backend")
		if b == "" {
			b = "vxlan"
		}
		if backends[b] == nil {
			backendOrder = append(backendOrder, b)
		}
		backends[b] = append(backends[b], n)
		externalIP = externalIP || k3sBoolFlag(args, "--flannel-external-ip")
	}
	flannel := len(backends) > 0 && backends["none"] == nil
	if len(backends) == 0 {
		// Not K3s, or args unknown: flannel runs if any node says so.
		for _, n := range nodes {
			if n.Annotations[flannelBackendType] != "" {
				flannel = true
			}
		}
	}

	var out []casebook.Finding
	if len(backendOrder) > 1 {
		f := casebook.Finding{CaseID: "N-001", Cause: "flannel-backend-differs",
			Message: "the K3s servers run flannel with different backends; flannel options must be the same on every server"}
		for _, b := range backendOrder {
			for _, n := range backends[b] {
				f.Objects = append(f.Objects, ref(casebook.KindNode, n))
				f.Evidence = append(f.Evidence, quote(casebook.KindNode, n.Name, "annotation k3s.io/node-args: %s", k3sNodeArgs(n)))
			}
		}
		out = append(out, f)
	}
	if flannel {
		out = append(out, duplicatePublicIPs(nodes)...)
		if !externalIP {
			out = append(out, flannelNotNodeIP(st, nodes)...)
		}
		out = append(out, flannelMissing(nodes)...)
	}
	out = append(out, networkUnavailable(nodes)...)
	return r.done(out)
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func quoteFlannelNode(n *corev1.Node) casebook.Evidence {
	return quote(casebook.KindNode, n.Name, "annotation %s: %s, InternalIP %s", flannelPublicIP, n.Annotations[flannelPublicIP], internalIP(n))
}

// duplicatePublicIPs finds nodes whose flannel registered the same public
// IP: the VXLAN tunnel to each of them ends at one host (typically a NAT
// interface every VM has, 10.0.2.15).
func duplicatePublicIPs(nodes []*corev1.Node) []casebook.Finding {
	byIP := map[string][]*corev1.Node{}
	var ips []string
	for _, n := range nodes {
		ip := n.Annotations[flannelPublicIP]
		if ip == "" {
			continue
		}
		if byIP[ip] == nil {
			ips = append(ips, ip)
		}
		byIP[ip] = append(byIP[ip], n)
	}
	f := casebook.Finding{CaseID: "N-001", Cause: "flannel-public-ip-duplicate",
		Message: "several nodes registered the same flannel public IP, so the overlay tunnels to all of them end at one address and cross-node pod traffic is lost"}
	for _, ip := range ips {
		if len(byIP[ip]) < 2 {
			continue
		}
		for _, n := range byIP[ip] {
			f.Objects = append(f.Objects, ref(casebook.KindNode, n))
			f.Evidence = append(f.Evidence, quoteFlannelNode(n))
		}
	}
	if len(f.Objects) == 0 {
		return nil
	}
	return []casebook.Finding{f}
}

// flannelNotNodeIP finds nodes given a --node-ip whose flannel registered
// another address: without --flannel-iface, K3s's flannel takes the
// interface of the default route, whatever --node-ip says, and the other
// nodes tunnel to an address they may not reach.
func flannelNotNodeIP(st *cluster.State, nodes []*corev1.Node) []casebook.Finding {
	f := casebook.Finding{CaseID: "N-001", Cause: "flannel-ip-not-node-ip",
		Message: "flannel tunnels from another address than the node's --node-ip: without --flannel-iface it takes the default-route interface, which the other nodes may not reach"}
	for _, n := range nodes {
		ip := n.Annotations[flannelPublicIP]
		args := nodeArgs(st, n)
		nodeIP := k3sFlagValue(args, "--node-ip")
		if ip == "" || nodeIP == "" || k3sFlagValue(args, "--flannel-iface") != "" {
			continue
		}
		if ip == internalIP(n) || strings.Contains(","+nodeIP+",", ","+ip+",") {
			continue
		}
		f.Objects = append(f.Objects, ref(casebook.KindNode, n))
		f.Evidence = append(f.Evidence, quoteFlannelNode(n), quote(casebook.KindNode, n.Name, "annotation k3s.io/node-args: %s", k3sNodeArgs(n)))
	}
	if len(f.Objects) == 0 {
		return nil
	}
	return []casebook.Finding{f}
}

// flannelMissing finds nodes of a flannel cluster where flannel never
// registered (no public IP or VTEP data) while it did on other nodes: the
// node has no tunnel, and pods on it reach no other node.
func flannelMissing(nodes []*corev1.Node) []casebook.Finding {
	registered := 0
	for _, n := range nodes {
		if n.Annotations[flannelPublicIP] != "" && n.Annotations[flannelBackendData] != "" {
			registered++
		}
	}
	if registered == 0 {
		return nil
	}
	f := casebook.Finding{CaseID: "N-001", Cause: "flannel-not-registered",
		Message: "flannel has not registered this node (no public IP or VTEP data), so it has no overlay tunnel to the other nodes"}
	for _, n := range nodes {
		var missing []string
		for _, a := range []string{flannelPublicIP, flannelBackendType, flannelBackendData} {
			if n.Annotations[a] == "" {
				missing = append(missing, a)
			}
		}
		if len(missing) == 0 {
			continue
		}
		f.Objects = append(f.Objects, ref(casebook.KindNode, n))
		f.Evidence = append(f.Evidence, quote(casebook.KindNode, n.Name, "has no annotation %s (%d other nodes have them)", strings.Join(missing, ", "), registered))
		if n.Spec.PodCIDR == "" {
			f.Evidence = append(f.Evidence, quote(casebook.KindNode, n.Name, "spec.podCIDR is empty"))
		}
		if c := nodeCondition(n, corev1.NodeReady); c != nil {
			f.Evidence = append(f.Evidence, quoteNodeCondition(n, c))
		}
	}
	if len(f.Objects) == 0 {
		return nil
	}
	return []casebook.Finding{f}
}

// networkUnavailable finds nodes whose NetworkUnavailable condition is
// True: the node's network (its routes or CNI) is not set up.
func networkUnavailable(nodes []*corev1.Node) []casebook.Finding {
	f := casebook.Finding{CaseID: "N-001", Cause: "node-network-unavailable",
		Message: "the node reports NetworkUnavailable: its pod network is not set up, so its pods cannot reach other nodes"}
	for _, n := range nodes {
		c := nodeCondition(n, corev1.NodeNetworkUnavailable)
		if c == nil || c.Status != corev1.ConditionTrue {
			continue
		}
		f.Objects = append(f.Objects, ref(casebook.KindNode, n))
		f.Evidence = append(f.Evidence, quoteNodeCondition(n, c))
		if r := nodeCondition(n, corev1.NodeReady); r != nil {
			f.Evidence = append(f.Evidence, quoteNodeCondition(n, r))
		}
	}
	if len(f.Objects) == 0 {
		return nil
	}
	return []casebook.Finding{f}
}

func quoteNodeCondition(n *corev1.Node, c *corev1.NodeCondition) casebook.Evidence {
	s := quote(casebook.KindNode, n.Name, "condition %s=%s", c.Type, c.Status)
	if c.Reason != "" {
		s.Text += " reason " + c.Reason
	}
	if c.Message != "" {
		s.Text += ": " + c.Message
	}
	return s
}

// n001Steps are the next steps of PodCrossNodeCommunicationFailed findings, by cause.
var n001Steps = stepsByCause{
	"node-network-unavailable": {
		{Step: 2, Kind: casebook.KindNode, Cmd: `kubectl describe node %name%`},
		{Step: 4, Kind: casebook.KindNode, Cmd: `ip -d link show flannel.1`, OnNode: true},
	},
	"": {
		{Step: 2, Kind: casebook.KindNode, Cmd: `kubectl get node %name% -o yaml`},
		{Step: 3, Kind: casebook.KindNode, Cmd: `journalctl -u k3s --no-pager | grep -i flannel`, OnNode: true},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (PodCrossNodeCommunicationFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return n001Steps.of(f.Cause)
}

// n001ZH are the messages of PodCrossNodeCommunicationFailed findings in Chinese, by cause.
var n001ZH = zhByCause{
	"flannel-backend-differs":     `各 K3s server 上 flannel 的后端不一致；flannel 选项在每个 server 上都必须相同`,
	"flannel-public-ip-duplicate": `多个节点登记了同一个 flannel 公网 IP，通往它们的隧道都落在同一个地址，跨节点 Pod 流量丢失`,
	"flannel-ip-not-node-ip":      `flannel 用的隧道地址不是节点的 --node-ip：未设 --flannel-iface 时它选默认路由网卡，其他节点可能访问不到`,
	"flannel-not-registered":      `flannel 没有登记这个节点（没有公网 IP 或 VTEP 信息），它与其他节点之间没有覆盖网络隧道`,
	"node-network-unavailable":    `节点报告 NetworkUnavailable：其 Pod 网络没有建立，节点上的 Pod 无法访问其他节点`,
}

// MessageZH returns the finding's message in Chinese.
func (PodCrossNodeCommunicationFailed) MessageZH(f *casebook.Finding) string {
	return n001ZH.of(f.Cause)
}
