package caseload

import casebook "github.com/casebook-dev/casebook"

// seedEntry is one row of the seed index (故障排查案例集): the ID, the file it
// links to, its title and its severity, which the library must keep as they are.
type seedEntry struct {
	ID       string
	File     string
	Title    string
	Severity casebook.Severity
}

// seed is the case list of the original index, in its order.
var seed = []seedEntry{
	{"W-001", "wasmedge-cold-start-timeout.md", "Wasm 应用冷启动超时", casebook.SeverityCritical},
	{"W-002", "wasmedge-memory-overflow.md", "Wasm 内存溢出", casebook.SeverityCritical},
	{"W-003", "wasmedge-network-connection-failed.md", "Wasm 网络连接失败", casebook.SeverityMajor},
	{"W-004", "wasmedge-filesystem-access-error.md", "Wasm 文件系统访问错误", casebook.SeverityMajor},
	{"W-005", "wasmedge-multithreading-issue.md", "Wasm 多线程问题", casebook.SeverityMajor},
	{"W-006", "wasmedge-performance-degradation.md", "Wasm 性能下降", casebook.SeverityMinor},
	{"W-007", "wasmedge-image-pull-failed.md", "Wasm 镜像拉取失败", casebook.SeverityMajor},
	{"W-008", "wasmedge-log-output-abnormal.md", "Wasm 日志输出异常", casebook.SeverityMinor},
	{"K-001", "k3s-node-join-failed.md", "K3s 节点无法加入集群", casebook.SeverityCritical},
	{"K-002", "k3s-pod-scheduling-failed.md", "K3s Pod 调度失败", casebook.SeverityCritical},
	{"K-003", "k3s-storage-volume-mount-failed.md", "K3s 存储卷挂载失败", casebook.SeverityMajor},
	{"K-004", "k3s-network-policy-not-effective.md", "K3s 网络策略不生效", casebook.SeverityMajor},
	{"K-005", "k3s-control-plane-high-load.md", "K3s 控制平面高负载", casebook.SeverityMajor},
	{"K-006", "k3s-certificate-expired.md", "K3s 证书过期问题", casebook.SeverityCritical},
	{"O-001", "gatekeeper-webhook-timeout.md", "Gatekeeper Webhook 超时", casebook.SeverityCritical},
	{"O-002", "opa-policy-evaluation-failed.md", "OPA 策略评估失败", casebook.SeverityMajor},
	{"O-003", "gatekeeper-policy-update-delayed.md", "Gatekeeper 策略更新延迟", casebook.SeverityMajor},
	{"O-004", "opa-performance-issue.md", "OPA 性能问题", casebook.SeverityMinor},
	{"N-001", "pod-cross-node-communication-failed.md", "Pod 跨节点通信失败", casebook.SeverityCritical},
	{"N-002", "service-unreachable.md", "Service 无法访问", casebook.SeverityCritical},
	{"N-003", "ingress-routing-error.md", "Ingress 路由错误", casebook.SeverityMajor},
	{"S-001", "pvc-mount-failed.md", "PVC 挂载失败", casebook.SeverityCritical},
	{"S-002", "storage-performance-issue.md", "存储性能问题", casebook.SeverityMajor},
}

func seedByID(id string) (seedEntry, bool) {
	for _, e := range seed {
		if e.ID == id {
			return e, true
		}
	}
	return seedEntry{}, false
}
