// Package web serves the casebook in a browser: server-rendered pages over
// the case library (home with filters, case pages, search, match, diagnose)
// and a JSON API under /api/v1/. Templates, CSS and JS are embedded, so the
// UI works offline; every response carries a strict Content-Security-Policy
// and the standard security headers.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/search"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Limits bound what a request may cost the server.
type Limits struct {
	// MaxBody is the largest request body but uploads (match text, forms).
	MaxBody int64
	// MaxUpload is the largest compressed snapshot upload.
	MaxUpload int64
	// MaxExtracted caps the total size of an upload once decompressed, and
	// MaxFiles its number of files, so a small archive cannot expand
	// without bound.
	MaxExtracted int64
	MaxFiles     int
	// Uploads is how many uploads are diagnosed at once; more are refused
	// with 503 rather than queued. An upload takes its slot once its body
	// has arrived.
	Uploads int
	// Receiving is how many uploads may be arriving at once, and
	// ReceiveTimeout how long one may take to arrive: a slow client holds
	// a receiving slot for that long at most, and no diagnosis slot.
	Receiving      int
	ReceiveTimeout time.Duration
	// DiagnoseTimeout bounds one diagnosis.
	DiagnoseTimeout time.Duration
}

// DefaultLimits are the limits New uses for zero fields.
var DefaultLimits = Limits{
	MaxBody:         1 << 20,
	MaxUpload:       32 << 20,
	MaxExtracted:    512 << 20,
	MaxFiles:        20000,
	Uploads:         2,
	Receiving:       8,
	ReceiveTimeout:  time.Minute,
	DiagnoseTimeout: 2 * time.Minute,
}

// Options configure a Server.
type Options struct {
	// Library is the case library served; it must not change afterwards.
	Library *caseload.Library
	// CasesFS holds the case files, to serve their source; Prefix is the
	// library's path as shown to readers ("cases/").
	CasesFS fs.FS
	Prefix  string
	// Index searches the library; nil builds one from Library.
	Index *search.Index
	// Matcher matches pasted text to cases; nil builds one from Library.
	Matcher Matcher
	// Diagnoser finds cases in cluster state; nil turns the diagnose page
	// and API off.
	Diagnoser Diagnoser
	// DiagnoseTTL is how long the diagnosis of the server's own source is
	// reused; 0 reuses it for good, right for a snapshot.
	DiagnoseTTL time.Duration
	// Limits bound request costs; zero fields take DefaultLimits.
	Limits Limits
	// ErrorLog receives errors the reader cannot act on; nil discards them.
	ErrorLog io.Writer
	// AllowedHosts are the host names (Host header, without port) the
	// server answers to besides IP addresses and localhost; any other is
	// refused, so that a DNS-rebinding page cannot read it.
	AllowedHosts []string
}

// Server is the casebook web UI. It is safe for concurrent use.
type Server struct {
	lib       *caseload.Library
	casesFS   fs.FS
	prefix    string
	index     *search.Index
	ownIndex  bool
	matcher   Matcher
	diagnoser Diagnoser
	limits    Limits
	errorLog  io.Writer

	pages   map[string]*template.Template
	assets  *assets
	mux     *http.ServeMux
	uploads chan struct{}
	// receiving bounds the uploads being received, which hold no
	// diagnosis slot until their body is in.
	receiving chan struct{}
	guard     *guard
	current   *currentDiagnosis

	// casePages holds every case page, rendered at start for each
	// language: the library is immutable, so serving a case is a map
	// lookup and a write.
	casePages map[lang]map[string][]byte
	// caseSource holds the case files as written.
	caseSource map[string][]byte
}

// New builds a server over a loaded library: it builds the search index
// and the matcher when not given, and renders every case page.
func New(opts Options) (*Server, error) {
	if opts.Library == nil {
		return nil, fmt.Errorf("web: no case library")
	}
	s := &Server{
		lib: opts.Library, casesFS: opts.CasesFS, prefix: opts.Prefix,
		index: opts.Index, matcher: opts.Matcher, diagnoser: opts.Diagnoser,
		limits: withDefaults(opts.Limits), errorLog: opts.ErrorLog,
	}
	if s.errorLog == nil {
		s.errorLog = io.Discard
	}
	if s.index == nil {
		ix, err := search.NewIndex(s.lib.Cases)
		if err != nil {
			return nil, err
		}
		s.index, s.ownIndex = ix, true
	}
	if s.matcher == nil {
		s.matcher = search.NewMatcher(s.lib.Cases)
	}
	s.uploads = make(chan struct{}, s.limits.Uploads)
	s.receiving = make(chan struct{}, s.limits.Receiving)
	s.guard = newGuard(opts.AllowedHosts)
	s.current = &currentDiagnosis{ttl: opts.DiagnoseTTL}
	var err error
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if s.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	if err := s.renderCases(); err != nil {
		s.Close()
		return nil, err
	}
	s.routes()
	return s, nil
}

func withDefaults(l Limits) Limits {
	d := DefaultLimits
	if l.MaxBody > 0 {
		d.MaxBody = l.MaxBody
	}
	if l.MaxUpload > 0 {
		d.MaxUpload = l.MaxUpload
	}
	if l.MaxExtracted > 0 {
		d.MaxExtracted = l.MaxExtracted
	}
	if l.MaxFiles > 0 {
		d.MaxFiles = l.MaxFiles
	}
	if l.Uploads > 0 {
		d.Uploads = l.Uploads
	}
	if l.Receiving > 0 {
		d.Receiving = l.Receiving
	}
	if l.ReceiveTimeout > 0 {
		d.ReceiveTimeout = l.ReceiveTimeout
	}
	if l.DiagnoseTimeout > 0 {
		d.DiagnoseTimeout = l.DiagnoseTimeout
	}
	return d
}

// Close releases the search index when the server built it.
func (s *Server) Close() error {
	if s.ownIndex {
		return s.index.Close()
	}
	return nil
}

// Handler returns the server's HTTP handler, with the security headers.
func (s *Server) Handler() http.Handler { return securityHeaders(s.guarded(s.mux)) }

// NewHTTPServer returns an http.Server for h on addr with timeouts, so a
// slow or stalled client cannot hold a connection open for ever.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// Uploads of MaxUpload over a slow link need the read time.
		ReadTimeout:    2 * time.Minute,
		WriteTimeout:   3 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
}

// routes registers every URL. Methods are checked by the handlers (see
// methods) so that a wrong method gets 405 with an Allow header, as JSON
// under /api/.
func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("/{$}", methods{"GET": s.home})
	m.Handle("/cases/{id}", methods{"GET": s.casePage})
	m.Handle("/cases/{id}/source", methods{"GET": s.caseSourceFile})
	m.Handle("/search", methods{"GET": s.searchPage})
	m.Handle("/match", methods{"GET": s.matchPage, "POST": s.matchPage})
	m.Handle("/diagnose", methods{"GET": s.diagnosePage, "POST": s.diagnoseUpload})
	m.Handle("/lang/{lang}", methods{"GET": s.setLang})
	m.Handle("/static/", methods{"GET": s.assets.serve})
	m.Handle("/api/v1/cases", apiMethods{"GET": s.apiCases})
	m.Handle("/api/v1/cases/{id}", apiMethods{"GET": s.apiCase})
	m.Handle("/api/v1/search", apiMethods{"GET": s.apiSearch})
	m.Handle("/api/v1/match", apiMethods{"POST": s.apiMatch})
	m.Handle("/api/v1/diagnose", apiMethods{"GET": s.apiDiagnose, "POST": s.apiDiagnoseUpload})
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s; see /api/v1/cases", r.URL.Path))
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, tr(requestLang(r), "err.notfound"), r.URL.Path)
	})
	s.mux = m
}

// methods routes a page by method; HEAD is served as GET.
type methods map[string]http.HandlerFunc

func (ms methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := ms.lookup(r.Method); ok {
		h(w, r)
		return
	}
	w.Header().Set("Allow", ms.allow())
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

func (ms methods) lookup(method string) (http.HandlerFunc, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	h, ok := ms[method]
	return h, ok
}

func (ms methods) allow() string {
	var out []string
	for _, m := range []string{"GET", "HEAD", "POST"} {
		if _, ok := ms.lookup(m); ok {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// apiMethods is methods with JSON errors.
type apiMethods map[string]http.HandlerFunc

func (ms apiMethods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := methods(ms).lookup(r.Method); ok {
		h(w, r)
		return
	}
	w.Header().Set("Allow", methods(ms).allow())
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, methods(ms).allow()))
}

// contentSecurityPolicy allows only the server's own scripts, styles and
// images: no inline script, no framing, forms post only here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		next.ServeHTTP(w, r)
	})
}

// setLang stores the reader's language and goes back to the page they
// were on.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	l := lang(r.PathValue("lang"))
	if l != langZH && l != langEN {
		s.errorPage(w, r, http.StatusNotFound, tr(requestLang(r), "err.notfound"), r.URL.Path)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// localPath returns next when it is a path on this server, "/" otherwise,
// so that the language toggle cannot send a reader elsewhere. It judges the
// URL as parsed, and refuses what browsers read differently from Go: a
// backslash (a slash to them), control characters (dropped by them, so
// "/\t/evil.com" is "//evil.com") and a path that decodes to "//".
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		confusable(next) || confusable(u.Path) || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	out := u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

// confusable reports whether s holds a backslash or a control character.
func confusable(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' })
}

// logf reports an error the reader cannot act on.
func (s *Server) logf(format string, args ...any) {
	fmt.Fprintf(s.errorLog, "casebook serve: "+format+"\n", args...)
}

// render executes a page template into a buffer first, so a template
// error becomes a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.logf("render %s: %v", name, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeHTML(w, status, buf.Bytes())
}

func writeHTML(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ctxOrTimeout bounds a diagnosis by the server's limit.
func (s *Server) ctxOrTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.limits.DiagnoseTimeout)
}
