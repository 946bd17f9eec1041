# K-901: a K3s server writes its admin kubeconfig with a mode every local
# user can read (--write-kubeconfig-mode 644). Reads the K3s flags the
# engine parses from each node's k3s.io/node-args annotation.
package team.k901

findings contains f if {
	some name, node in input.objects.Node
	args := input.relations.nodes[name].k3s_args
	args[0] == "server"
	mode := kubeconfig_mode(args)
	world_readable(mode)
	ref := {"kind": "Node", "name": name}
	f := {
		"cause": "kubeconfig-world-readable",
		"message": sprintf("the K3s server writes /etc/rancher/k3s/k3s.yaml with mode %s: every local user can read the cluster-admin credentials", [mode]),
		"message_zh": sprintf("K3s server 以 %s 权限写出 /etc/rancher/k3s/k3s.yaml：本机任意用户都能读到集群管理员凭据", [mode]),
		"objects": [ref],
		"evidence": [{"object": ref, "field": "annotation k3s.io/node-args", "text": node.metadata.annotations["k3s.io/node-args"]}],
	}
}

# kubeconfig_mode is the value of --write-kubeconfig-mode, given as two
# arguments or as --write-kubeconfig-mode=MODE.
kubeconfig_mode(args) := args[i + 1] if {
	some i, a in args
	a == "--write-kubeconfig-mode"
}

kubeconfig_mode(args) := substring(a, count("--write-kubeconfig-mode="), -1) if {
	some a in args
	startswith(a, "--write-kubeconfig-mode=")
}

# world_readable: the last octal digit has the read bit (4).
world_readable(mode) if {
	last := substring(mode, count(mode) - 1, 1)
	last in {"4", "5", "6", "7"}
}

next := {"kubeconfig-world-readable": [
	{"step": 1, "kind": "Node", "command": "kubectl get node %name% -o jsonpath='{.metadata.annotations.k3s\\.io/node-args}'"},
	{"step": 2, "kind": "Node", "command": "stat -c '%a %U %n' /etc/rancher/k3s/k3s.yaml", "on_node": true},
]}

explains_nothing := {"kubeconfig-world-readable"}
