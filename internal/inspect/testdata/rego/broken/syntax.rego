package example

allow if {
	input.user == "admin"
