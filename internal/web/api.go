package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/search"
)

// writeJSON writes v with status. HTML-significant characters are escaped
// (\u003c), so a response opened as a page cannot run a script.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error": "encode response"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type apiError struct {
	Error string `json:"error"`
}

// writeError writes a JSON error: {"error": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// apiCaseSummary is a case in lists, with its page's URL.
type apiCaseSummary struct {
	casebook.Summary
	URL string `json:"url"`
}

// apiCaseDetail is one whole case, with its page's URL.
type apiCaseDetail struct {
	casebook.Detail
	URL string `json:"url"`
}

func newAPICaseSummary(c *casebook.Case) apiCaseSummary {
	return apiCaseSummary{Summary: c.Summary(), URL: "/cases/" + c.ID}
}

type apiCaseList struct {
	Count int              `json:"count"`
	Cases []apiCaseSummary `json:"cases"`
}

// apiCases is GET /api/v1/cases?component=&severity=&type=&status=.
func (s *Server) apiCases(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := apiCaseList{Cases: []apiCaseSummary{}}
	for _, c := range s.lib.Select(f) {
		out.Cases = append(out.Cases, newAPICaseSummary(c))
	}
	out.Count = len(out.Cases)
	writeJSON(w, http.StatusOK, out)
}

// apiCase is GET /api/v1/cases/{id}.
func (s *Server) apiCase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := s.lib.Get(id)
	if !ok {
		msg := fmt.Sprintf("no case %s", id)
		if sug := s.lib.Suggest(id); sug != "" {
			msg += "; did you mean " + sug + "?"
		}
		writeError(w, http.StatusNotFound, msg)
		return
	}
	writeJSON(w, http.StatusOK, apiCaseDetail{Detail: c.Detail(), URL: "/cases/" + c.ID})
}

type apiSearchResult struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	TitleEN  string   `json:"title_en"`
	Score    float64  `json:"score"`
	Snippets []string `json:"snippets"`
	URL      string   `json:"url"`
}

type apiSearchResponse struct {
	Query   string            `json:"query"`
	Count   int               `json:"count"`
	Results []apiSearchResult `json:"results"`
}

// apiSearch is GET /api/v1/search?q=&limit=.
func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		writeError(w, http.StatusBadRequest, "missing query: use /api/v1/search?q=WORDS")
		return
	}
	if len(q) > maxQueryBytes {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("query too long (%d bytes, at most %d); POST long text to /api/v1/match", len(q), maxQueryBytes))
		return
	}
	limit, err := intParam(r, "limit", 10, 1, 50)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	hits, err := s.index.Search(q, limit)
	if err != nil {
		s.logf("search %q: %v", q, err)
		writeError(w, http.StatusInternalServerError, "search failed")
		return
	}
	out := apiSearchResponse{Query: q, Count: len(hits), Results: []apiSearchResult{}}
	for _, h := range hits {
		res := apiSearchResult{ID: h.Case.ID, Title: h.Case.Title, TitleEN: h.Case.TitleEN, Score: h.Score,
			Snippets: []string{}, URL: "/cases/" + h.Case.ID}
		for _, sn := range h.Snippets {
			res.Snippets = append(res.Snippets, string(safeSnippet(sn)))
		}
		out.Results = append(out.Results, res)
	}
	writeJSON(w, http.StatusOK, out)
}

// intParam reads an integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a number from %d to %d (got %q)", name, lo, hi, v)
	}
	return n, nil
}

type apiMatchRequest struct {
	Text string `json:"text"`
	Top  int    `json:"top"`
}

type apiMatch struct {
	ID         string            `json:"id"`
	Title      string            `json:"title"`
	TitleEN    string            `json:"title_en"`
	Severity   casebook.Severity `json:"severity"`
	Confidence float64           `json:"confidence"`
	Level      string            `json:"level"`
	Signals    []apiSignalHit    `json:"signals"`
	Terms      []string          `json:"terms"`
	Lines      []apiLine         `json:"lines"`
	URL        string            `json:"url"`
}

type apiSignalHit struct {
	Signal string  `json:"signal"`
	Match  string  `json:"match"`
	Line   apiLine `json:"line"`
	Count  int     `json:"count"`
}

type apiLine struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
}

type apiMatchResponse struct {
	Count   int        `json:"count"`
	Matches []apiMatch `json:"matches"`
	Message string     `json:"message,omitempty"`
	// Note says what was done to the text, such as decoding it from GBK.
	Note string `json:"note,omitempty"`
}

// apiMatch is POST /api/v1/match: a JSON body {"text": "...", "top": 3},
// or the text itself as text/plain.
func (s *Server) apiMatch(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.limits.MaxBody)
	data, err := io.ReadAll(r.Body)
	if err != nil {
		if tooBig := maxBytesError(err); tooBig != nil {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large (at most %s)", byteSize(tooBig.Limit)))
			return
		}
		writeError(w, http.StatusBadRequest, "cannot read the request body: "+err.Error())
		return
	}
	req := apiMatchRequest{Top: 3}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error()+` (want {"text": "...", "top": 3})`)
			return
		}
	case "text/plain", "", "application/x-www-form-urlencoded":
		req.Text = string(data)
		// A form posts text=...; `curl -d @log.txt` sends the raw text under
		// the form content type, so a body without a text field is the text.
		if ct == "application/x-www-form-urlencoded" {
			if form, err := url.ParseQuery(req.Text); err == nil && form.Has("text") {
				req.Text = form.Get("text")
			}
		}
		if req.Top, err = intParam(r, "top", 3, 1, 20); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	default:
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported content type %q: send application/json, text/plain or a form with a text field", ct))
		return
	}
	note := ""
	if ct != "application/json" {
		req.Text, note = decodeGBK(req.Text, params["charset"])
	}
	if req.Top < 1 || req.Top > 20 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("top must be from 1 to 20 (got %d)", req.Top))
		return
	}
	if !utf8.ValidString(req.Text) {
		writeError(w, http.StatusBadRequest, "the text is not valid UTF-8")
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		writeError(w, http.StatusBadRequest, "empty text: send the error output to match")
		return
	}
	out := apiMatchResponse{Matches: []apiMatch{}, Note: note}
	for _, res := range s.matcher.Match(req.Text, search.MatchOptions{Limit: req.Top}) {
		m := apiMatch{ID: res.Case.ID, Title: res.Case.Title, TitleEN: res.Case.TitleEN, Severity: res.Case.Severity,
			Confidence: float64(int(res.Confidence*1000+0.5)) / 1000, Level: res.Level,
			Signals: []apiSignalHit{}, Terms: res.Terms, Lines: []apiLine{}, URL: "/cases/" + res.Case.ID}
		if m.Terms == nil {
			m.Terms = []string{}
		}
		for _, h := range res.Signals {
			m.Signals = append(m.Signals, apiSignalHit{Signal: h.Signal.String(), Match: h.Match,
				Line: apiLine{h.Line.Number, h.Line.Text}, Count: h.Count})
		}
		for _, ln := range res.Lines {
			m.Lines = append(m.Lines, apiLine{ln.Number, ln.Text})
		}
		out.Matches = append(out.Matches, m)
	}
	out.Count = len(out.Matches)
	if out.Count == 0 {
		out.Message = "no known case matches"
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeGBK decodes text sent in GBK, as a Chinese Windows console or an
// old tool writes it: named by the request's charset, or recognised. The
// note says what was done.
func decodeGBK(text, charset string) (string, string) {
	switch strings.ToLower(charset) {
	case "gbk", "gb2312", "gb18030", "cp936":
		if out, err := simplifiedchinese.GB18030.NewDecoder().String(text); err == nil {
			return out, "the text was decoded from " + charset + " to UTF-8"
		}
	}
	if out, ok := search.DecodeGB18030([]byte(text)); ok {
		return string(out), "the text was not UTF-8; it was decoded as GB18030 (GBK)"
	}
	return text, ""
}

// apiDiagnose is GET /api/v1/diagnose: the findings of the server's source.
func (s *Server) apiDiagnose(w http.ResponseWriter, r *http.Request) {
	if s.diagnoser == nil {
		writeError(w, http.StatusNotFound, "diagnosis is not available on this server")
		return
	}
	if s.diagnoser.Source() == "" {
		writeError(w, http.StatusNotFound, ErrNoSource.Error()+"; POST a snapshot .tar.gz to /api/v1/diagnose")
		return
	}
	d, err := s.currentDiagnosis(r.Context(), r.URL.Query().Has("refresh"))
	if err != nil {
		s.logf("diagnose %s: %v", s.diagnoser.Source(), err)
		writeError(w, http.StatusBadGateway, "diagnose "+s.diagnoser.Source()+": "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// apiDiagnoseUpload is POST /api/v1/diagnose: the body is a snapshot
// .tar.gz, or a multipart form with it in the field "snapshot".
func (s *Server) apiDiagnoseUpload(w http.ResponseWriter, r *http.Request) {
	if s.diagnoser == nil {
		writeError(w, http.StatusNotFound, "diagnosis is not available on this server")
		return
	}
	d, _, err := s.receiveUpload(w, r, false)
	if err != nil {
		var ue *uploadError
		if errors.As(err, &ue) {
			writeError(w, ue.Status, ue.Msg)
			return
		}
		s.logf("diagnose upload: %v", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}
