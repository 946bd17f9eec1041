package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// Diagnoser finds known cases in cluster state, for the diagnose page and
// API. Its methods are called concurrently.
type Diagnoser interface {
	// Source names the source the server was started with ("snapshot
	// examples/edge-cluster", "cluster edge-1"); "" when there is none.
	Source() string
	// Current diagnoses that source.
	Current(ctx context.Context) (*casebook.Report, error)
	// Snapshot diagnoses a snapshot directory: an extracted upload.
	Snapshot(ctx context.Context, dir string) (*casebook.Report, error)
}

// ErrNoSource is returned by Diagnoser.Current when the server was started
// without a source.
var ErrNoSource = errors.New("the server was started without a source (--snapshot PATH or cluster flags)")

// currentDiagnosis caches the diagnosis of the server's own source: one
// run at a time, reused until it is older than ttl (0: for good, as for a
// snapshot, which does not change).
type currentDiagnosis struct {
	mu  sync.Mutex
	d   *casebook.Report
	ttl time.Duration
}

// minRefresh is how often a reader may force a new run of a live source.
const minRefresh = 5 * time.Second

func (s *Server) currentDiagnosis(ctx context.Context, refresh bool) (*casebook.Report, error) {
	c := s.current
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d != nil {
		age := time.Since(c.d.Time)
		fresh := c.ttl == 0 || age < c.ttl
		if fresh && (!refresh || c.ttl == 0 || age < minRefresh) {
			return c.d, nil
		}
	}
	ctx, cancel := s.ctxOrTimeout(ctx)
	defer cancel()
	d, err := s.diagnoser.Current(ctx)
	if err != nil {
		return nil, err
	}
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	c.d = d
	return d, nil
}

// --- page ---------------------------------------------------------------

type diagnoseView struct {
	Available bool
	Source    string
	NoSource  bool
	Err       string
	Uploaded  bool
	FileName  string
	MaxUpload string
	Result    *diagnosisView
	Refresh   bool
}

type diagnosisView struct {
	Source string
	Time   string
	Count  int
	// Roots counts the findings nothing in the report explains.
	Roots    int
	Groups   []findingGroup
	Warnings []string
}

// nextRow is a next step: the case step it comes from, and its command.
type nextRow struct {
	Title, Command, Node string
}

// findingGroup is the findings of one case.
type findingGroup struct {
	caseRow
	Known    bool
	Findings []findingRow
}

type findingRow struct {
	Message  string
	Cause    string
	Objects  []string
	Evidence []string
	Next     []nextRow
	// CaseID and CaseURL name the finding's case, shown on consequences,
	// whose case differs from the group's.
	CaseID, CaseURL, CaseTitle string
	// Consequences are the findings this one explains, nested.
	Consequences []findingRow
}

func (s *Server) diagnosePage(w http.ResponseWriter, r *http.Request) {
	l := requestLang(r)
	v := &diagnoseView{Available: s.diagnoser != nil, MaxUpload: byteSize(s.limits.MaxUpload)}
	if s.diagnoser != nil {
		v.Source = s.diagnoser.Source()
		v.NoSource = v.Source == ""
		v.Refresh = s.current.ttl > 0
	}
	if v.Available && !v.NoSource {
		d, err := s.currentDiagnosis(r.Context(), r.URL.Query().Has("refresh"))
		if err != nil {
			s.logf("diagnose %s: %v", v.Source, err)
			v.Err = err.Error()
		} else {
			v.Result = s.diagnosisView(l, d)
		}
	}
	s.render(w, http.StatusOK, "diagnose", s.newPage(l, r, "diagnose", tr(l, "diag.title"), v))
}

func (s *Server) diagnoseUpload(w http.ResponseWriter, r *http.Request) {
	l := requestLang(r)
	if s.diagnoser == nil {
		s.errorPage(w, r, http.StatusNotFound, tr(l, "err.title"), tr(l, "diag.unavailable"))
		return
	}
	d, name, err := s.receiveUpload(w, r, true)
	if err != nil {
		var ue *uploadError
		if errors.As(err, &ue) {
			v := &errorView{Status: ue.Status, Title: tr(l, "err.upload"), Message: ue.Msg,
				LinkText: tr(l, "diag.upload.again"), LinkURL: "/diagnose"}
			s.render(w, ue.Status, "error", s.newPage(l, r, "diagnose", v.Title, v))
			return
		}
		s.logf("diagnose upload: %v", err)
		s.errorPage(w, r, http.StatusInternalServerError, tr(l, "diag.error"), err.Error())
		return
	}
	v := &diagnoseView{Available: true, Uploaded: true, FileName: name, MaxUpload: byteSize(s.limits.MaxUpload),
		Source: s.diagnoser.Source(), Result: s.diagnosisView(l, d)}
	v.NoSource = v.Source == ""
	s.render(w, http.StatusOK, "diagnose", s.newPage(l, r, "diagnose", tr(l, "diag.uploaded")+" · "+tr(l, "diag.title"), v))
}

// diagnosisView shows root causes first: the findings nothing explains,
// grouped by case, most severe case first, each with the findings it
// explains nested under it ("→ 导致"), as the CLI's table does.
func (s *Server) diagnosisView(l lang, d *casebook.Report) *diagnosisView {
	v := &diagnosisView{Source: d.Source, Time: d.Time.Format("2006-01-02 15:04:05 MST"), Count: len(d.Findings)}
	byID := map[string]casebook.Finding{}
	for _, f := range d.Findings {
		byID[f.ID] = f
	}
	byCase := map[string]*findingGroup{}
	var order []string
	for _, f := range d.Findings {
		if isExplained(f, byID) {
			continue // shown under its cause
		}
		v.Roots++
		g, ok := byCase[f.CaseID]
		if !ok {
			g = &findingGroup{caseRow: caseRow{ID: f.CaseID, Title: f.CaseID, Severity: f.Severity, SeverityLabel: severityLabel(l, f.Severity)}}
			if c, found := s.lib.Get(f.CaseID); found {
				g.caseRow, g.Known = newCaseRow(l, c), true
			}
			byCase[f.CaseID] = g
			order = append(order, f.CaseID)
		}
		g.Findings = append(g.Findings, s.findingTree(l, f, byID, map[string]bool{}))
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := byCase[order[i]], byCase[order[j]]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		return a.ID < b.ID
	})
	for _, id := range order {
		v.Groups = append(v.Groups, *byCase[id])
	}
	for _, w := range d.Warnings {
		v.Warnings = append(v.Warnings, w.String())
	}
	return v
}

// isExplained reports whether a finding that is in the report explains f.
func isExplained(f casebook.Finding, byID map[string]casebook.Finding) bool {
	for _, id := range f.CausedBy {
		if _, ok := byID[id]; ok {
			return true
		}
	}
	return false
}

// findingTree renders f with the findings it explains under it; seen
// guards against a cycle in the links.
func (s *Server) findingTree(l lang, f casebook.Finding, byID map[string]casebook.Finding, seen map[string]bool) findingRow {
	seen[f.ID] = true
	row := findingRow{Message: f.Message, Cause: f.Cause, CaseID: f.CaseID}
	if c, ok := s.lib.Get(f.CaseID); ok {
		cr := newCaseRow(l, c)
		row.CaseURL, row.CaseTitle = cr.URL, cr.Title
	}
	if l == langZH && f.MessageZH != "" {
		row.Message = f.MessageZH
	}
	for _, n := range f.Next {
		row.Next = append(row.Next, nextRow{Title: fmt.Sprintf("%d. %s", n.StepNo, n.Title), Command: n.Command, Node: n.Node})
	}
	for _, e := range f.Evidence {
		row.Evidence = append(row.Evidence, e.String())
	}
	for _, o := range f.Objects {
		row.Objects = append(row.Objects, o.String())
	}
	for _, id := range f.Causes {
		c, ok := byID[id]
		if !ok || seen[id] {
			continue
		}
		row.Consequences = append(row.Consequences, s.findingTree(l, c, byID, seen))
	}
	return row
}

// --- upload -------------------------------------------------------------

// uploadField is the form field of the snapshot file.
const uploadField = "snapshot"

// multipartSlack is what a multipart body may hold beside the file.
const multipartSlack = 64 << 10

// receiveUpload reads a snapshot .tar.gz from the request (a multipart
// form with the file in "snapshot", or the archive as the body), unpacks
// it into a temporary directory within the limits, diagnoses it and
// removes the directory. It returns the upload's file name. A form (the
// page's, not the API's) must carry its form token before the file.
//
// The upload holds a receiving slot while its body arrives, for
// ReceiveTimeout at most, and a diagnosis slot only once it is in: slow
// clients cannot keep the diagnoses of others waiting.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request, form bool) (*casebook.Report, string, error) {
	dir, name, err := s.receiveArchive(w, r, form)
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return nil, "", err
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		return nil, "", badUpload(http.StatusServiceUnavailable, "the server is diagnosing other uploads; try again in a moment")
	}
	ctx, cancel := s.ctxOrTimeout(r.Context())
	defer cancel()
	d, err := s.diagnoser.Snapshot(ctx, dir)
	switch {
	case errors.Is(err, snapshot.ErrLimit):
		// The command-line flag that raises a limit is not the reader's to set.
		msg := err.Error()
		var le *snapshot.LimitError
		if errors.As(err, &le) {
			le.Flag = ""
			msg = le.Error()
		}
		return nil, "", badUpload(http.StatusRequestEntityTooLarge, "%s", strings.ReplaceAll(msg, dir, name))
	case errors.Is(err, snapshot.ErrEmpty):
		return nil, "", badUpload(http.StatusUnprocessableEntity, "%s", strings.ReplaceAll(err.Error(), dir, name))
	case err != nil:
		return nil, "", badUpload(http.StatusBadRequest, "cannot diagnose the snapshot: %s", strings.ReplaceAll(err.Error(), dir, name))
	}
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	d.Source = "upload " + name
	return d, name, nil
}

// receiveArchive receives the upload into a new temporary directory, which
// the caller removes (also on error, when it is not "").
func (s *Server) receiveArchive(w http.ResponseWriter, r *http.Request, form bool) (dir, name string, err error) {
	select {
	case s.receiving <- struct{}{}:
		defer func() { <-s.receiving }()
	default:
		return "", "", badUpload(http.StatusServiceUnavailable, "the server is receiving other uploads; try again in a moment")
	}
	// Not every ResponseWriter has a deadline (httptest's recorder). The
	// deadline is lifted once the body is in; an upload that fails keeps it
	// and its connection is closed, not drained.
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(s.limits.ReceiveTimeout)) == nil {
		defer func() {
			if err == nil {
				_ = rc.SetReadDeadline(time.Time{})
			} else {
				w.Header().Set("Connection", "close")
			}
		}()
	}
	if r.ContentLength > s.limits.MaxUpload+multipartSlack {
		return "", "", badUpload(http.StatusRequestEntityTooLarge, "upload too large (%s, at most %s)", byteSize(r.ContentLength), byteSize(s.limits.MaxUpload))
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.limits.MaxUpload+multipartSlack)
	body, name, token, err := uploadBody(r)
	if err != nil {
		return "", "", s.slowUpload(err)
	}
	if form && formBody(r) && !s.formTokenOK(r, token) {
		return "", "", badUpload(http.StatusForbidden, formTokenMessage)
	}
	body = io.LimitReader(body, s.limits.MaxUpload+1)

	dir, err = os.MkdirTemp("", "casebook-upload-")
	if err != nil {
		return "", "", fmt.Errorf("create upload directory: %w", err)
	}
	counted := &countingReader{r: body}
	if _, err := extractTarGz(counted, dir, extractLimits{MaxBytes: s.limits.MaxExtracted, MaxFiles: s.limits.MaxFiles}); err != nil {
		if counted.n > s.limits.MaxUpload {
			return dir, "", badUpload(http.StatusRequestEntityTooLarge, "upload too large (at most %s)", byteSize(s.limits.MaxUpload))
		}
		return dir, "", s.slowUpload(err)
	}
	// Whatever follows the archive still counts against the limit.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return dir, "", s.slowUpload(badArchive(err, 0))
	}
	if counted.n > s.limits.MaxUpload {
		return dir, "", badUpload(http.StatusRequestEntityTooLarge, "upload too large (at most %s)", byteSize(s.limits.MaxUpload))
	}
	return dir, name, nil
}

// slowUpload turns the end of the receive time into a 408.
func (s *Server) slowUpload(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		return badUpload(http.StatusRequestTimeout, "the upload did not arrive within %s", s.limits.ReceiveTimeout)
	}
	return err
}

// uploadBody finds the archive in the request, and in a form the form
// token sent before it.
func uploadBody(r *http.Request) (body io.Reader, name, token string, err error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return r.Body, "snapshot.tar.gz", "", nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", "", badUpload(http.StatusBadRequest, "cannot read the form: %v", err)
	}
	for range 16 {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if tooBig := maxBytesError(err); tooBig != nil {
				return nil, "", "", badUpload(http.StatusRequestEntityTooLarge, "upload too large (at most %s)", byteSize(tooBig.Limit-multipartSlack))
			}
			return nil, "", "", &uploadError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("cannot read the form: %v", err), err: err}
		}
		switch part.FormName() {
		case tokenField:
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			token = string(b)
		case uploadField:
			name := part.FileName()
			if name == "" {
				return nil, "", "", badUpload(http.StatusBadRequest, "choose a snapshot file to upload")
			}
			return part, displayName(name), token, nil
		}
	}
	return nil, "", "", badUpload(http.StatusBadRequest, "no snapshot in the upload: send the .tar.gz in the form field %q", uploadField)
}

// displayName shortens an uploaded file name for display.
func displayName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if utf8.RuneCountInString(name) > 80 {
		name = string([]rune(name)[:80]) + "…"
	}
	return name
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func maxBytesError(err error) *http.MaxBytesError {
	var e *http.MaxBytesError
	if errors.As(err, &e) {
		return e
	}
	return nil
}
