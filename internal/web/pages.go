package web

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/reproduce"
	"github.com/casebook-dev/casebook/internal/search"
)

// page is what every template gets: the chrome (language, navigation,
// search box, assets) and the page's own content.
type page struct {
	Lang    lang
	Title   string
	Path    string // this page's URL, for the language toggle
	Nav     string
	Query   string
	CSS, JS string
	Content any
	// FormToken goes into every form that posts (see guard).
	FormToken string
}

// T returns the UI string key in the page's language.
func (p *page) T(key string) string { return tr(p.Lang, key) }

// HTMLLang is the <html lang> value.
func (p *page) HTMLLang() string { return p.Lang.htmlLang() }

// LangURL is the link of the language toggle.
func (p *page) LangURL() string {
	return "/lang/" + string(p.Lang.other()) + "?next=" + url.QueryEscape(p.Path)
}

func (s *Server) newPage(l lang, r *http.Request, nav, title string, content any) *page {
	p := &page{Lang: l, Title: title, Nav: nav, CSS: s.assets.url("casebook.css"), JS: s.assets.url("casebook.js"), Content: content}
	if r != nil {
		p.Path = r.URL.RequestURI()
		p.FormToken = pageToken(r)
	}
	return p
}

var pageNames = []string{"home", "case", "search", "match", "diagnose", "error"}

func parseTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

var templateFuncs = template.FuncMap{
	// pair hands a sub-template the page and a value.
	"pair": func(p *page, v any) pagePair { return pagePair{Page: p, Value: v} },
}

type pagePair struct {
	Page  *page
	Value any
}

// caseRow is a case as lists show it, in the reader's language.
type caseRow struct {
	ID            string
	URL           string
	Title         string // in the reader's language
	Subtitle      string // in the other one
	Component     casebook.Component
	ComponentName string
	Severity      casebook.Severity
	SeverityLabel string
	Types         []string
	Status        casebook.Status
	StatusLabel   string
	Detected      bool
	DetectedLabel string
}

func newCaseRow(l lang, c *casebook.Case) caseRow {
	r := caseRow{ID: c.ID, URL: "/cases/" + c.ID, Title: c.Title, Subtitle: c.TitleEN,
		Component: c.Component, ComponentName: componentLabel(l, c.Component),
		Severity: c.Severity, SeverityLabel: severityLabel(l, c.Severity),
		Status: c.Status, StatusLabel: statusLabel(l, c.Status), Detected: c.Detected, DetectedLabel: tr(l, "badge.detected")}
	if l == langEN && c.TitleEN != "" {
		r.Title, r.Subtitle = c.TitleEN, c.Title
	}
	for _, t := range c.Types {
		r.Types = append(r.Types, faultTypeLabel(l, t))
	}
	return r
}

// --- home ---------------------------------------------------------------

type homeView struct {
	Total, Complete, Draft, Detected int
	Facets                           []facet
	Filtered                         bool
	ClearURL                         string
	Shown                            int
	Groups                           []caseGroup
}

// facet is one filter axis with a count for each of its values.
type facet struct {
	Key, Label string
	Values     []facetValue
}

// facetValue is one filter chip: its count under the other active
// filters, and the URL that toggles it.
type facetValue struct {
	Value, Label string
	Class        string
	Count        int
	Active       bool
	URL          string
}

type caseGroup struct {
	Label string
	Cases []caseRow
}

// parseFilter reads the home page and API filters from a query; each
// accepts the English key or the Chinese label, as the CLI does.
func parseFilter(q url.Values) (caseload.Filter, error) {
	var f caseload.Filter
	var err error
	if v := q.Get("component"); v != "" {
		if f.Component, err = casebook.ParseComponent(v); err != nil {
			return f, err
		}
	}
	if v := q.Get("severity"); v != "" {
		if f.Severity, err = casebook.ParseSeverity(v); err != nil {
			return f, err
		}
	}
	if v := q.Get("type"); v != "" {
		if f.Type, err = casebook.ParseFaultType(v); err != nil {
			return f, err
		}
	}
	if v := q.Get("status"); v != "" {
		if f.Status, err = casebook.ParseStatus(v); err != nil {
			return f, err
		}
	}
	return f, nil
}

// filterURL is the home page URL for f.
func filterURL(f caseload.Filter) string {
	q := url.Values{}
	if f.Component != "" {
		q.Set("component", string(f.Component))
	}
	if f.Severity != "" {
		q.Set("severity", string(f.Severity))
	}
	if f.Type != "" {
		q.Set("type", string(f.Type))
	}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if len(q) == 0 {
		return "/"
	}
	return "/?" + q.Encode()
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	l := requestLang(r)
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, tr(l, "err.title"), err.Error())
		return
	}
	v := &homeView{Total: len(s.lib.Cases), Filtered: f != caseload.Filter{}, ClearURL: "/"}
	for _, c := range s.lib.Cases {
		if c.Status == casebook.StatusComplete {
			v.Complete++
		} else {
			v.Draft++
		}
		if c.Detected {
			v.Detected++
		}
	}
	v.Facets = s.facets(l, f)
	selected := s.lib.Select(f)
	v.Shown = len(selected)
	for _, c := range selected {
		if n := len(v.Groups); n == 0 || v.Groups[n-1].Cases[0].Component != c.Component {
			v.Groups = append(v.Groups, caseGroup{Label: componentLabel(l, c.Component)})
		}
		g := &v.Groups[len(v.Groups)-1]
		g.Cases = append(g.Cases, newCaseRow(l, c))
	}
	s.render(w, http.StatusOK, "home", s.newPage(l, r, "cases", tr(l, "home.title"), v))
}

// facets counts, for every value of every axis, the cases that would be
// shown if that value were chosen with the other active filters.
func (s *Server) facets(l lang, f caseload.Filter) []facet {
	count := func(g caseload.Filter) int {
		n := 0
		for _, c := range s.lib.Cases {
			if g.Match(c) {
				n++
			}
		}
		return n
	}
	return []facet{
		axisFacet(&f, "component", tr(l, "axis.component"), casebook.Components, &f.Component, count,
			func(c casebook.Component) (string, string) { return componentLabel(l, c), "" }),
		axisFacet(&f, "severity", tr(l, "axis.severity"), casebook.Severities, &f.Severity, count,
			func(v casebook.Severity) (string, string) { return severityLabel(l, v), "sev-" + string(v) }),
		axisFacet(&f, "type", tr(l, "axis.type"), casebook.FaultTypes, &f.Type, count,
			func(v casebook.FaultType) (string, string) { return faultTypeLabel(l, v), "" }),
		axisFacet(&f, "status", tr(l, "axis.status"), []casebook.Status{casebook.StatusComplete, casebook.StatusDraft}, &f.Status, count,
			func(v casebook.Status) (string, string) { return statusLabel(l, v), "st-" + string(v) }),
	}
}

// axisFacet builds one axis of the filters. field points at the axis in *f;
// each value links to *f with that value chosen, and the active value links
// to *f without it. *f is as it was when axisFacet returns.
func axisFacet[T ~string](f *caseload.Filter, key, label string, values []T, field *T, count func(caseload.Filter) int,
	describe func(T) (label, class string)) facet {
	cur := *field
	defer func() { *field = cur }()
	fc := facet{Key: key, Label: label}
	for _, v := range values {
		*field = v
		lbl, class := describe(v)
		fv := facetValue{Value: string(v), Label: lbl, Class: class, Count: count(*f), Active: cur == v}
		if fv.Active {
			*field = ""
		}
		fv.URL = filterURL(*f)
		fc.Values = append(fc.Values, fv)
	}
	return fc
}

// --- case page ----------------------------------------------------------

type caseView struct {
	caseRow
	SummaryEN   string
	EnglishUI   bool
	Body        caseBody
	Environment []keyValue
	Related     []caseRow
	References  []string
	Signals     []signalView
	SourcePath  string
	SourceURL   string
	// Reproduce is the command that reproduces the case on a lab cluster.
	Reproduce string
}

type keyValue struct{ Key, Value string }

// renderCases renders every case page in every language.
func (s *Server) renderCases() error {
	s.casePages = map[lang]map[string][]byte{}
	s.caseSource = map[string][]byte{}
	for _, l := range langs {
		md := newMarkdown(l, s.lib.Cases)
		s.casePages[l] = make(map[string][]byte, len(s.lib.Cases))
		for _, c := range s.lib.Cases {
			body, err := md.render(c)
			if err != nil {
				return err
			}
			v := s.caseView(l, c, body)
			p := s.newPage(l, nil, "cases", c.ID+" "+v.Title, v)
			p.Path = "/cases/" + c.ID
			var buf bytes.Buffer
			if err := s.pages["case"].ExecuteTemplate(&buf, "layout", p); err != nil {
				return fmt.Errorf("render case page %s: %w", c.ID, err)
			}
			s.casePages[l][c.ID] = buf.Bytes()
		}
	}
	if s.casesFS != nil {
		for _, c := range s.lib.Cases {
			data, err := fs.ReadFile(s.casesFS, c.File)
			if err != nil {
				return fmt.Errorf("read case %s: %w", c.ID, err)
			}
			s.caseSource[c.ID] = data
		}
	}
	return nil
}

func (s *Server) caseView(l lang, c *casebook.Case, body caseBody) *caseView {
	v := &caseView{caseRow: newCaseRow(l, c), SummaryEN: c.SummaryEN, EnglishUI: l == langEN, Body: body,
		References: c.References, SourcePath: s.prefix + c.File, Reproduce: reproduce.Command(c.ID)}
	if s.casesFS != nil {
		v.SourceURL = "/cases/" + c.ID + "/source"
	}
	keys := make([]string, 0, len(c.Environment))
	for k := range c.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Environment = append(v.Environment, keyValue{k, c.Environment[k]})
	}
	for _, id := range c.Related {
		if rc, ok := s.lib.Get(id); ok {
			v.Related = append(v.Related, newCaseRow(l, rc))
		}
	}
	for _, sig := range c.Signals {
		row := signalView{Text: sig.String(), Versions: sig.Versions, Note: sig.Note}
		for _, src := range sig.ParsedSources() {
			row.Sources = append(row.Sources, sourceLink{Label: src.String(), URL: src.Link()})
		}
		v.Signals = append(v.Signals, row)
	}
	return v
}

// signalView is a case signal with its provenance, as the case page lists it.
type signalView struct {
	Text, Versions, Note string
	Sources              []sourceLink
}

type sourceLink struct{ Label, URL string }

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := s.lib.Get(id)
	if !ok {
		s.noCase(w, r, id)
		return
	}
	if id != c.ID {
		http.Redirect(w, r, "/cases/"+c.ID, http.StatusMovedPermanently)
		return
	}
	body := s.casePages[requestLang(r)][c.ID]
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Set("Vary", "Cookie")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func (s *Server) noCase(w http.ResponseWriter, r *http.Request, id string) {
	l := requestLang(r)
	msg := fmt.Sprintf("%s: %s", tr(l, "case.notfound"), id)
	p := &errorView{Status: http.StatusNotFound, Title: tr(l, "case.notfound"), Message: msg}
	if sug := s.lib.Suggest(id); sug != "" {
		p.LinkText, p.LinkURL = tr(l, "case.didyoumean")+" "+sug+"?", "/cases/"+sug
	}
	s.render(w, http.StatusNotFound, "error", s.newPage(l, r, "", p.Title, p))
}

// caseSourceFile serves a case file as written, as plain text.
func (s *Server) caseSourceFile(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lib.Get(r.PathValue("id"))
	data, has := s.caseSource[strings.ToUpper(r.PathValue("id"))]
	if !ok || !has {
		s.noCase(w, r, r.PathValue("id"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", "inline; filename="+c.File)
	h.Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// --- search -------------------------------------------------------------

type searchView struct {
	Query    string
	Results  []searchRow
	Examples []string
}

type searchRow struct {
	caseRow
	Snippets []template.HTML
}

// maxQueryBytes bounds a search query; longer text belongs on the match page.
const maxQueryBytes = 1000

// searchLimit is how many results a search page shows.
const searchLimit = 20

var searchExamples = []string{"证书过期", "冷启动", "webhook timeout", "Multi-Attach", "DNS"}

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) {
	l := requestLang(r)
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := &searchView{Query: q, Examples: searchExamples}
	title := tr(l, "search.title")
	if q != "" {
		if len(q) > maxQueryBytes {
			s.errorPage(w, r, http.StatusBadRequest, tr(l, "err.title"), fmt.Sprintf("search query too long (%d bytes, at most %d); paste long text on the match page", len(q), maxQueryBytes))
			return
		}
		hits, err := s.index.Search(q, searchLimit)
		if err != nil {
			s.logf("search %q: %v", q, err)
			s.errorPage(w, r, http.StatusInternalServerError, tr(l, "err.title"), "search failed")
			return
		}
		for _, h := range hits {
			row := searchRow{caseRow: newCaseRow(l, h.Case)}
			for _, sn := range h.Snippets {
				row.Snippets = append(row.Snippets, safeSnippet(sn))
			}
			v.Results = append(v.Results, row)
		}
		title = q + " · " + title
	}
	p := s.newPage(l, r, "search", title, v)
	p.Query = q
	s.render(w, http.StatusOK, "search", p)
}

// safeSnippet re-escapes a search snippet keeping only its <mark> tags.
// The index escapes snippets already; this does not rely on it, since
// snippets quote case files and are written into the page unescaped.
// Markdown emphasis and code marks are dropped: a snippet is read as text.
func safeSnippet(sn string) template.HTML {
	esc := func(s string) string {
		return template.HTMLEscapeString(snippetMarks.Replace(html.UnescapeString(s)))
	}
	var b strings.Builder
	for i, part := range strings.Split(sn, "<mark>") {
		inner, rest, marked := strings.Cut(part, "</mark>")
		if i == 0 || !marked {
			if i > 0 {
				b.WriteString("<mark>")
			}
			b.WriteString(esc(part))
			if i > 0 {
				b.WriteString("</mark>")
			}
			continue
		}
		b.WriteString("<mark>" + esc(inner) + "</mark>" + esc(rest))
	}
	return template.HTML(b.String())
}

var snippetMarks = strings.NewReplacer("**", "", "`", "")

// --- match --------------------------------------------------------------

// Matcher finds the cases a pasted text belongs to. *search.Matcher
// implements it.
type Matcher interface {
	Match(text string, opts search.MatchOptions) []search.Result
}

var _ Matcher = (*search.Matcher)(nil)

type matchView struct {
	Text      string
	Submitted bool
	Empty     bool
	Results   []matchRow
}

type matchRow struct {
	caseRow
	Confidence int
	Level      string
	LevelLabel string
	Signals    []signalRow
	Terms      []string
	Lines      []quotedLine
}

type signalRow struct {
	Signal string
	Line   quotedLine
	Count  int
}

// quotedLine is an input line with what matched in it marked.
type quotedLine struct {
	Number               int
	Before, Match, After string
}

func newQuotedLine(l search.Line, match string) quotedLine {
	q := quotedLine{Number: l.Number, Before: l.Text}
	if match == "" {
		return q
	}
	if i := strings.Index(l.Text, match); i >= 0 {
		q.Before, q.Match, q.After = l.Text[:i], match, l.Text[i+len(match):]
	}
	return q
}

// Terms are shown up to maxTerms, each up to maxTermRunes.
const (
	maxTerms     = 8
	maxTermRunes = 60
)

// matchLimit is how many cases a match shows at most.
const matchLimit = 5

func (s *Server) matchPage(w http.ResponseWriter, r *http.Request) {
	l := requestLang(r)
	v := &matchView{}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, s.limits.MaxBody)
		if err := r.ParseForm(); err != nil {
			s.bodyError(w, r, err)
			return
		}
		if !s.formTokenOK(r, r.PostForm.Get(tokenField)) {
			s.errorPage(w, r, http.StatusForbidden, tr(l, "err.title"), formTokenMessage)
			return
		}
		v.Submitted = true
		v.Text = r.PostForm.Get("text")
		if strings.TrimSpace(v.Text) == "" {
			v.Empty = true
		} else {
			for _, res := range s.matcher.Match(v.Text, search.MatchOptions{Limit: matchLimit}) {
				v.Results = append(v.Results, newMatchRow(l, res))
			}
		}
	}
	s.render(w, http.StatusOK, "match", s.newPage(l, r, "match", tr(l, "match.title"), v))
}

func newMatchRow(l lang, res search.Result) matchRow {
	row := matchRow{caseRow: newCaseRow(l, res.Case), Confidence: int(res.Confidence*100 + 0.5),
		Level: res.Level, LevelLabel: levelLabel(l, res.Level)}
	quoted := map[int]bool{}
	for _, h := range res.Signals {
		row.Signals = append(row.Signals, signalRow{Signal: h.Signal.String(), Line: newQuotedLine(h.Line, h.Match), Count: h.Count})
		quoted[h.Line.Number] = true
	}
	// A line quoted for a signal is not quoted again.
	for _, ln := range res.Lines {
		if !quoted[ln.Number] {
			row.Lines = append(row.Lines, newQuotedLine(ln, ""))
		}
	}
	for _, t := range res.Terms {
		if len(row.Terms) == maxTerms {
			break
		}
		if r := []rune(t); len(r) > maxTermRunes {
			t = string(r[:maxTermRunes]) + "…"
		}
		row.Terms = append(row.Terms, t)
	}
	return row
}

// bodyError answers a request whose body could not be read: 413 when it
// was too large, 400 otherwise.
func (s *Server) bodyError(w http.ResponseWriter, r *http.Request, err error) {
	l := requestLang(r)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, tr(l, "err.title"),
			fmt.Sprintf("request body too large (at most %s)", byteSize(tooBig.Limit)))
		return
	}
	s.errorPage(w, r, http.StatusBadRequest, tr(l, "err.title"), "cannot read the request: "+err.Error())
}

// --- errors -------------------------------------------------------------

type errorView struct {
	Status            int
	Title, Message    string
	LinkText, LinkURL string
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	l := requestLang(r)
	v := &errorView{Status: status, Title: title, Message: msg}
	s.render(w, status, "error", s.newPage(l, r, "", title, v))
}

// byteSize formats n bytes for people ("32 MiB").
func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
