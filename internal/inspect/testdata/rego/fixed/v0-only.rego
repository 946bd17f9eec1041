# What opa fmt --v0-v1 makes of it.
package example

allow if {
	input.user == "admin"
}

deny contains msg if {
	not allow
	msg := "not allowed"
}
