# O-002 root cause 2 and 5: an unsafe variable and a name that is both a complete and a partial rule.
package policy

deny contains msg if {
	not input.request.object.metadata.labels[missing]
	msg := sprintf("missing label %v", [missing])
}

deny := true if input.request.dryRun
