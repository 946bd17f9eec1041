# N-003 Ingress 路由错误 — one cause of the Go detector
# (internal/detectors/n003_ingress_routing_error.go, cause
# backend-service-missing) re-expressed as a rule, for the parity test.
package casebook.builtin.n003

findings contains f if {
	some [key, where, svc] in backends
	ing := input.objects.Ingress[key]
	ns := ing.metadata.namespace
	not input.objects.Service[sprintf("%s/%s", [ns, svc.name])]
	ref := {"kind": "Ingress", "namespace": ns, "name": ing.metadata.name}
	f := {
		"cause": "backend-service-missing",
		"message": "the Ingress routes to a Service that does not exist",
		"message_zh": "Ingress 路由到一个不存在的 Service",
		"objects": [ref],
		"evidence": [
			{"object": ref, "field": sprintf("%s backend", [where]), "text": sprintf("service %s port %s", [svc.name, port(svc.port)])},
			{"object": {"kind": "Service", "namespace": ns, "name": svc.name}, "text": "not found"},
		],
	}
}

# backends are [ingress key, where, service backend]: the default backend,
# then every rule's paths.
backends contains [key, "spec.defaultBackend", svc] if {
	some key, ing in input.objects.Ingress
	svc := ing.spec.defaultBackend.service
}

backends contains [key, sprintf("rule %s%s", [host(r), object.get(p, "path", "")]), p.backend.service] if {
	some key, ing in input.objects.Ingress
	some r in ing.spec.rules
	some p in r.http.paths
	p.backend.service
}

host(r) := r.host if r.host != ""
else := "*"

port(p) := p.name if p.name != ""
else := format_int(object.get(p, "number", 0), 10)

next := {"backend-service-missing": [
	{"step": 2, "kind": "Ingress", "command": "kubectl describe ingress -n %ns% %name%"},
	{"step": 2, "kind": "Ingress", "command": "kubectl get svc -n %ns%"},
]}
