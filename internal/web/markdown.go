package web

import (
	"bytes"
	"fmt"
	"html/template"
	"path"
	"regexp"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	casebook "github.com/casebook-dev/casebook"
)

// tocEntry is one heading in a case's table of contents.
type tocEntry struct {
	ID       string
	Title    string
	Children []tocEntry
}

// caseBody is a case's Markdown rendered to HTML, with its contents.
type caseBody struct {
	HTML template.HTML
	TOC  []tocEntry
}

// markdown renders case bodies. Raw HTML in a case is never passed through
// (goldmark's default; html.WithUnsafe is deliberately not used), links to
// other case files become links to their pages, every code block gets a
// copy button, and headings get stable IDs for the contents and for links.
type markdown struct {
	md goldmark.Markdown
	// caseByFile maps a case file name to its ID, to rewrite links.
	caseByFile map[string]string
}

func newMarkdown(l lang, cases []*casebook.Case) *markdown {
	byFile := make(map[string]string, len(cases))
	for _, c := range cases {
		byFile[c.File] = c.ID
	}
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM, extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute))),
		goldmark.WithRendererOptions(html.WithXHTML()),
		goldmark.WithRendererOptions(renderer.WithNodeRenderers(
			util.Prioritized(&blockRenderer{copy: tr(l, "code.copy"), copied: tr(l, "code.copied"), failed: tr(l, "code.copyfail")}, 100),
		)),
	)
	return &markdown{md: md, caseByFile: byFile}
}

// render renders the body of c.
func (m *markdown) render(c *casebook.Case) (caseBody, error) {
	src := []byte(c.Body)
	doc := m.md.Parser().Parse(text.NewReader(src))
	var toc []tocEntry
	ids := map[string]int{}
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			title := nodeText(n, src)
			id := uniqueID(ids, slug(title))
			n.SetAttributeString("id", []byte(id))
			switch {
			case n.Level == 2:
				toc = append(toc, tocEntry{ID: id, Title: title})
			case n.Level == 3 && len(toc) > 0:
				last := &toc[len(toc)-1]
				last.Children = append(last.Children, tocEntry{ID: id, Title: title})
			}
			return ast.WalkSkipChildren, nil
		case *ast.Link:
			m.rewriteLink(n)
		case *ast.AutoLink:
			n.SetAttributeString("rel", []byte("noopener noreferrer"))
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return caseBody{}, fmt.Errorf("render case %s: %w", c.ID, err)
	}
	var buf bytes.Buffer
	if err := m.md.Renderer().Render(&buf, src, doc); err != nil {
		return caseBody{}, fmt.Errorf("render case %s: %w", c.ID, err)
	}
	// The HTML comes from goldmark without raw HTML and with every text
	// escaped, so it is safe to mark as such.
	return caseBody{HTML: template.HTML(buf.String()), TOC: toc}, nil
}

// rewriteLink points links to case files at the case pages and keeps
// other pages from learning where a reader came from.
func (m *markdown) rewriteLink(n *ast.Link) {
	dest := string(n.Destination)
	if strings.Contains(dest, "://") || strings.HasPrefix(dest, "//") {
		n.SetAttributeString("rel", []byte("noopener noreferrer"))
		return
	}
	file, frag, _ := strings.Cut(dest, "#")
	if id, ok := m.caseByFile[path.Base(file)]; ok && strings.HasSuffix(file, ".md") {
		dest = "/cases/" + id
		if frag != "" {
			dest += "#" + frag
		}
		n.Destination = []byte(dest)
	}
}

// nodeText is the plain text inside n.
func nodeText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
			if c.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return strings.TrimSpace(b.String())
}

// slug makes an element ID from a heading: letters (Chinese included) and
// digits are kept, spaces become dashes, other punctuation is dropped, so
// /cases/K-006#排查过程 is a link a reader can type.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '_' || r == '/' || r == '.':
			dash = true
		}
	}
	if b.Len() == 0 {
		return "section"
	}
	return b.String()
}

func uniqueID(seen map[string]int, id string) string {
	seen[id]++
	if n := seen[id]; n > 1 {
		return fmt.Sprintf("%s-%d", id, n)
	}
	return id
}

// blockRenderer renders code blocks with a bar holding the language and a
// copy button, and headings with an anchor link.
type blockRenderer struct {
	copy, copied, failed string
}

func (r *blockRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, r.renderCode)
	reg.Register(ast.KindCodeBlock, r.renderCode)
	reg.Register(ast.KindHeading, r.renderHeading)
}

var langClass = regexp.MustCompile(`^[A-Za-z0-9_+-]{1,32}$`)

func (r *blockRenderer) renderCode(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	language := ""
	if f, ok := node.(*ast.FencedCodeBlock); ok {
		if l := string(f.Language(src)); langClass.MatchString(l) {
			language = l
		}
	}
	_, _ = w.WriteString(`<div class="code"><div class="code-bar"><span class="code-lang">`)
	_, _ = w.WriteString(language)
	_, _ = w.WriteString(`</span><button type="button" class="copy" data-copied="`)
	_, _ = w.WriteString(template.HTMLEscapeString(r.copied))
	_, _ = w.WriteString(`" data-failed="`)
	_, _ = w.WriteString(template.HTMLEscapeString(r.failed))
	_, _ = w.WriteString(`">`)
	_, _ = w.WriteString(template.HTMLEscapeString(r.copy))
	_, _ = w.WriteString(`</button></div><pre tabindex="0"><code`)
	if language != "" {
		_, _ = w.WriteString(` class="language-` + language + `"`)
	}
	_ = w.WriteByte('>')
	lines := node.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		_, _ = w.Write(util.EscapeHTML(seg.Value(src)))
	}
	_, _ = w.WriteString("</code></pre></div>\n")
	return ast.WalkSkipChildren, nil
}

func (r *blockRenderer) renderHeading(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Heading)
	id, _ := n.AttributeString("id")
	idText, _ := id.([]byte)
	if entering {
		fmt.Fprintf(w, "<h%d", n.Level)
		if len(idText) > 0 {
			_, _ = w.WriteString(` id="`)
			_, _ = w.Write(util.EscapeHTML(idText))
			_ = w.WriteByte('"')
		}
		_ = w.WriteByte('>')
		return ast.WalkContinue, nil
	}
	if len(idText) > 0 && n.Level <= 3 {
		_, _ = w.WriteString(`<a class="anchor" href="#`)
		_, _ = w.Write(util.EscapeHTML(idText))
		_, _ = w.WriteString(`" aria-hidden="true">#</a>`)
	}
	fmt.Fprintf(w, "</h%d>\n", n.Level)
	return ast.WalkContinue, nil
}
