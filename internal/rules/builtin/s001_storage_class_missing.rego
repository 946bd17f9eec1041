# S-001 PVC 挂载失败 — one cause of the Go detector
# (internal/detectors/s001_pvc_mount_failed.go, cause storage-class-missing)
# re-expressed as a rule, for the parity test.
package casebook.builtin.s001

findings contains f if {
	some key, c in input.objects.PersistentVolumeClaim
	c.status.phase == "Pending"
	not c.metadata.deletionTimestamp
	name := c.spec.storageClassName
	name != ""
	not input.objects.StorageClass[name]
	ref := {"kind": "PersistentVolumeClaim", "namespace": c.metadata.namespace, "name": c.metadata.name}
	users := [{"kind": "Pod", "namespace": ns, "name": n} |
		some p in input.relations.claims[key].pods
		[ns, n] := split(p, "/")
	]
	modes := concat(", ", object.get(c.spec, "accessModes", []))
	f := {
		"cause": "storage-class-missing",
		"message": "the claim's StorageClass does not exist, so nothing provisions it",
		"message_zh": "PVC 指定的 StorageClass 不存在，没有供应器为它创建卷",
		"objects": array.concat([ref], users),
		"evidence": array.concat(
			[{"object": ref, "field": "status.phase", "text": sprintf("%s, storageClassName: %q, accessModes: [%s]", [c.status.phase, name, modes])}],
			array.concat(provisioning_events(key), [{
				"object": {"kind": "StorageClass"},
				"text": sprintf("storageclass %q not found; StorageClasses: %s", [name, class_names]),
			}]),
		),
	}
}

# provisioning_events quotes the claim's latest event of each provisioning
# reason, oldest first.
provisioning_events(key) := [quote_event(e) |
	evs := object.get(input.relations.events, concat("/", ["PersistentVolumeClaim", key]), [])
	some i, e in evs
	e.reason in {"ProvisioningFailed", "ExternalProvisioning"}
	not later_same_reason(evs, i, e.reason)
]

later_same_reason(evs, i, reason) if {
	some j, e in evs
	j > i
	e.reason == reason
}

quote_event(e) := {
	"object": {"kind": e.involvedObject.kind, "namespace": e.involvedObject.namespace, "name": e.involvedObject.name},
	"field": event_field(e),
	"text": e.message,
}

event_field(e) := sprintf("event %s %s (x%d)", [e.type, e.reason, e.count]) if e.count > 1
else := sprintf("event %s %s", [e.type, e.reason])

class_names := "none" if count(input.objects.StorageClass) == 0

class_names := concat(", ", sort([desc |
	some sc in input.objects.StorageClass
	desc := sprintf("%s (%s%s)", [sc.metadata.name, sc.provisioner, default_mark(sc)])
])) if count(input.objects.StorageClass) > 0

default_mark(sc) := ", default" if sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"
else := ""

next := {"storage-class-missing": [
	{"step": 2, "kind": "PersistentVolumeClaim", "command": "kubectl describe pvc -n %ns% %name%"},
	{"step": 3, "kind": "PersistentVolumeClaim", "command": "kubectl get storageclass"},
]}
