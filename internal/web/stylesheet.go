package web

import "io/fs"

// Stylesheet returns the web UI's stylesheet, for the self-contained HTML
// report (casebook diagnose -o html), which inlines it so that a report
// attached to a ticket looks like the diagnose page.
func Stylesheet() ([]byte, error) {
	return fs.ReadFile(staticFS, "static/casebook.css")
}
