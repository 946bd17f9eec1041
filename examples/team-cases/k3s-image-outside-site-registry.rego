# K-902: a pod outside kube-system runs an image that does not come from
# the site registry. The team's registries are a set: edit it for a site.
package team.k902

site_registries := {"registry.example.com"}

findings contains f if {
	some key, pod in input.objects.Pod
	pod.metadata.namespace != "kube-system"
	not terminal(pod)
	outside := [c | some c in containers(pod); not registry(c.image) in site_registries]
	count(outside) > 0
	ref := {"kind": "Pod", "namespace": pod.metadata.namespace, "name": pod.metadata.name}
	quotes := [{"object": ref, "field": sprintf("spec.containers[%s].image", [c.name]), "text": c.image} | some c in outside]
	f := {
		"cause": "image-outside-site-registry",
		"message": "the pod's image comes from outside the site registry, over the uplink",
		"message_zh": "Pod 的镜像不来自站点镜像仓库，需经上行链路拉取",
		"objects": [ref],
		"evidence": array.concat(quotes, pull_events(key)),
	}
}

containers(pod) := array.concat(object.get(pod.spec, "initContainers", []), pod.spec.containers)

terminal(pod) if pod.status.phase in {"Succeeded", "Failed"}

terminal(pod) if pod.metadata.deletionTimestamp

# registry is the host an image is pulled from: its first path element when
# that looks like a host (a dot, a port or localhost), else docker.io.
registry(image) := host if {
	parts := split(image, "/")
	count(parts) > 1
	host := parts[0]
	looks_like_host(host)
} else := "docker.io"

looks_like_host(h) if contains(h, ".")

looks_like_host(h) if contains(h, ":")

looks_like_host("localhost")

# pull_events quotes the pod's image pull events, if the cluster kept any.
pull_events(key) := [{"object": {"kind": "Pod", "namespace": e.involvedObject.namespace, "name": e.involvedObject.name}, "field": sprintf("event %s %s", [e.type, e.reason]), "text": e.message} |
	some e in object.get(input.relations.events, concat("/", ["Pod", key]), [])
	e.reason in {"Pulling", "Failed"}
	contains(e.message, "image")
]

next := {"image-outside-site-registry": [
	{"step": 1, "kind": "Pod", "command": "kubectl get pod -n %ns% %name% -o jsonpath='{.spec.containers[*].image}'"},
	{"step": 2, "kind": "Pod", "command": "cat /etc/rancher/k3s/registries.yaml", "on_node": true},
]}

# A policy breach breaks nothing by itself: never show another finding on
# the same pods as its consequence.
explains_nothing := {"image-outside-site-registry"}
