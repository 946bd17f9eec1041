# Rego v0: OPA 1.x rejects it without --v0-compatible.
package example

allow {
	input.user == "admin"
}

deny[msg] {
	not allow
	msg := "not allowed"
}
