# Fixed: the variable is bound before it is negated, and the complete rule has its own name.
package policy

required := {"owner", "team"}

deny contains msg if {
	some missing in required
	not input.request.object.metadata.labels[missing]
	msg := sprintf("missing label %v", [missing])
}

dry_run := true if input.request.dryRun
