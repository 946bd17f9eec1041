// Package search finds cases by text: a full-text index over the case
// library (bleve, with its CJK bigram analyzer so Chinese text without
// spaces is searchable) and, in match.go, the symptom matcher.
package search

import (
	"fmt"
	"html"
	"regexp"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	casebook "github.com/casebook-dev/casebook"
)

// Index is an in-memory full-text index of a case library.
type Index struct {
	idx   bleve.Index
	cases map[string]*casebook.Case
	// texts holds each case's indexed text by field, to cut snippets from
	// without loading stored documents back out of the index.
	texts map[string]map[string]string
}

// Hit is one search result.
type Hit struct {
	Case  *casebook.Case
	Score float64
	// Snippets are HTML fragments of the matching text with the matched
	// terms in <mark>; everything else in them is escaped.
	Snippets []string
}

// document is what is indexed for one case.
type document struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	TitleEN string `json:"title_en"`
	Summary string `json:"summary"`
	Signals string `json:"signals"`
	Body    string `json:"body"`
}

// field boosts: a hit in a title says more than one in the body.
var boosts = map[string]float64{"title": 4, "title_en": 3, "signals": 2, "summary": 2, "body": 1}

// NewIndex builds the index over the given cases.
func NewIndex(cases []*casebook.Case) (*Index, error) {
	// scorch without a path keeps its segments in memory; it builds the
	// index several times faster than NewMemOnly's upside_down/gtreap.
	idx, err := bleve.NewUsing("", newMapping(), scorch.Name, scorch.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("create search index: %w", err)
	}
	ix := &Index{idx: idx, cases: map[string]*casebook.Case{}, texts: map[string]map[string]string{}}
	batch := idx.NewBatch()
	for _, c := range cases {
		ix.cases[c.ID] = c
		sigs := make([]string, len(c.Signals))
		for i, s := range c.Signals {
			sigs[i] = s.String()
		}
		doc := document{ID: c.ID, Title: c.Title, TitleEN: c.TitleEN, Summary: c.SummaryEN,
			Signals: strings.Join(sigs, "\n"), Body: PlainText(c.Body)}
		ix.texts[c.ID] = map[string]string{"body": doc.Body, "summary": doc.Summary}
		if err := batch.Index(c.ID, doc); err != nil {
			return nil, fmt.Errorf("index case %s: %w", c.ID, err)
		}
	}
	if err := idx.Batch(batch); err != nil {
		return nil, fmt.Errorf("build search index: %w", err)
	}
	return ix, nil
}

func newMapping() mapping.IndexMapping {
	text := bleve.NewTextFieldMapping()
	text.Analyzer = cjk.AnalyzerName
	text.IncludeTermVectors = true
	id := bleve.NewTextFieldMapping()
	id.Analyzer = keyword.Name
	doc := bleve.NewDocumentMapping()
	doc.AddFieldMappingsAt("id", id)
	for f := range boosts {
		doc.AddFieldMappingsAt(f, text)
	}
	m := bleve.NewIndexMapping()
	m.DefaultMapping = doc
	m.DefaultAnalyzer = cjk.AnalyzerName
	return m
}

// minRelativeScore is the share of the best hit's score a hit needs to be listed.
const minRelativeScore = 0.1

var caseIDPattern = regexp.MustCompile(`(?i)^[wkons]-\d{3}$`)

// Search returns up to limit cases ranked by relevance to q, with snippets.
func (ix *Index) Search(q string, limit int) ([]Hit, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, fmt.Errorf("empty search query")
	}
	var parts []query.Query
	if caseIDPattern.MatchString(q) {
		t := bleve.NewTermQuery(strings.ToUpper(q))
		t.SetField("id")
		t.SetBoost(10)
		parts = append(parts, t)
	}
	for f, b := range boosts {
		m := bleve.NewMatchQuery(q)
		m.SetField(f)
		m.SetBoost(b)
		parts = append(parts, m)
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDisjunctionQuery(parts...), limit, 0, false)
	// Term locations, not bleve's highlighter: the highlighter loads every
	// stored field of every hit and was most of a query's time.
	req.IncludeLocations = true
	res, err := ix.idx.Search(req)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", q, err)
	}
	hits := make([]Hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		c := ix.cases[h.ID]
		// A hit far below the best matched a common fragment only (启动
		// of 冷启动): noise, not a result.
		if c == nil || h.Score < minRelativeScore*res.Hits[0].Score {
			continue
		}
		hit := Hit{Case: c, Score: h.Score}
		for _, f := range []string{"body", "summary"} {
			hit.Snippets = append(hit.Snippets, snippets(ix.texts[h.ID][f], h.Locations[f], 2)...)
		}
		hits = append(hits, hit)
	}
	return hits, nil
}

// Close releases the index.
func (ix *Index) Close() error { return ix.idx.Close() }

// PlainSnippet turns an HTML snippet into terminal text, with the matched
// terms between open and close.
func PlainSnippet(s, open, close string) string {
	s = strings.ReplaceAll(s, "<mark>", open)
	s = strings.ReplaceAll(s, "</mark>", close)
	s = html.UnescapeString(s)
	return strings.Join(strings.Fields(s), " ")
}

var (
	fenceLine   = regexp.MustCompile("(?m)^\\s*(```|~~~).*$")
	headingMark = regexp.MustCompile(`(?m)^\s*#{1,6}\s+`)
	tableRule   = regexp.MustCompile(`(?m)^\s*\|?[\s:|-]+\|[\s:|-]*$`)
	emphasis    = strings.NewReplacer("**", "", "`", "")
)

// PlainText strips the Markdown syntax that would clutter snippets (fences,
// heading marks, table rules, emphasis and code marks) and keeps the words
// and the commands.
func PlainText(md string) string {
	md = fenceLine.ReplaceAllString(md, "")
	md = headingMark.ReplaceAllString(md, "")
	md = tableRule.ReplaceAllString(md, "")
	return emphasis.Replace(md)
}
