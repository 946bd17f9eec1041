package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
)

// guard refuses what a hostile web page could make a reader's browser do:
//
//   - a Host the server does not serve (DNS rebinding: a page on
//     evil.example whose name now resolves to this server would read its
//     answers as same-origin);
//   - a cross-site POST (http.CrossOriginProtection: Sec-Fetch-Site, or
//     Origin against Host; requests without either, such as curl's, pass);
//
// and gives every page request a form token cookie, which the HTML forms
// send back (checked by formTokenOK).
type guard struct {
	hosts map[string]bool
	cop   *http.CrossOriginProtection
	key   []byte
}

func newGuard(allowed []string) *guard {
	g := &guard{hosts: map[string]bool{}, cop: http.NewCrossOriginProtection(), key: make([]byte, 32)}
	for _, h := range allowed {
		if h = normalHost(h); h != "" {
			g.hosts[h] = true
		}
	}
	_, _ = rand.Read(g.key)
	return g
}

// normalHost is a Host header or an allowed-hosts entry without its port,
// brackets and trailing dot, in lower case.
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return h
}

// hostAllowed accepts an IP address (a rebinding page reaches the server
// under its own name, never an address; probes and port-forwards use
// addresses), localhost and its subdomains, and the configured names.
func (g *guard) hostAllowed(host string) bool {
	h := normalHost(host)
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	return g.hosts[h]
}

const (
	tokenCookie = "casebook_form"
	tokenField  = "form_token"
)

// formTokenMessage answers a form post without its token.
const formTokenMessage = "the form has no valid token (cookies off, or the page is from an earlier run of the server): reload the page and send it again"

type tokenKey struct{}

func (s *Server) guarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/api/")
		if !s.guard.hostAllowed(r.Host) {
			msg := fmt.Sprintf("this server does not answer to the host name %q; start it with --allowed-hosts %s to allow it", r.Host, normalHost(r.Host))
			if api {
				writeError(w, http.StatusMisdirectedRequest, msg)
			} else {
				http.Error(w, msg, http.StatusMisdirectedRequest)
			}
			return
		}
		if err := s.guard.cop.Check(r); err != nil {
			msg := "cross-site request refused: post from a page of this server, or without a browser"
			if api {
				writeError(w, http.StatusForbidden, msg)
			} else {
				s.errorPage(w, r, http.StatusForbidden, tr(requestLang(r), "err.title"), msg)
			}
			return
		}
		if r.URL.Path == "/match" || r.URL.Path == "/diagnose" {
			r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, s.formToken(w, r)))
		}
		next.ServeHTTP(w, r)
	})
}

// formToken returns the token the page's forms carry: an HMAC of the
// reader's token cookie, which it sets when missing. A page of another
// site cannot read it, nor compute it for a cookie it planted.
func (s *Server) formToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(tokenCookie)
	if err != nil || len(c.Value) < 32 {
		c = &http.Cookie{Name: tokenCookie, Value: rand.Text(), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode}
		http.SetCookie(w, c)
	}
	return s.tokenFor(c.Value)
}

func (s *Server) tokenFor(cookie string) string {
	m := hmac.New(sha256.New, s.guard.key)
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// formTokenOK reports whether token is the one of the request's cookie.
func (s *Server) formTokenOK(r *http.Request, token string) bool {
	c, err := r.Cookie(tokenCookie)
	if err != nil || token == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(s.tokenFor(c.Value)))
}

// formBody reports whether a request's body is one a page of another site
// can send without a CORS preflight (a form, or fetch in no-cors mode): a
// body of another type needs no form token.
func formBody(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// pageToken is the form token of the request, for its page's forms.
func pageToken(r *http.Request) string {
	t, _ := r.Context().Value(tokenKey{}).(string)
	return t
}
