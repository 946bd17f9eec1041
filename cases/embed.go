// Package cases embeds the case library: one Markdown file per case, the
// template and the generated index.
package cases

import (
	"embed"
	"io/fs"
)

//go:embed *.md
var files embed.FS

// FS returns the embedded case library.
func FS() fs.FS { return files }
