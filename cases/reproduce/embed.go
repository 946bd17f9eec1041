// Package reproduce embeds the reproductions of the cases: for each case
// that real components can show, <ID>/broken.yaml (the objects that make it
// happen), <ID>/fix.yaml (the state after the case's solution) and
// <ID>/README.md (front matter for `casebook reproduce`, then what to watch).
// internal/reproduce reads and applies them.
package reproduce

import (
	"embed"
	"io/fs"
)

//go:embed */*.yaml */README.md
var files embed.FS

// FS returns the embedded reproductions.
func FS() fs.FS { return files }
