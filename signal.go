package casebook

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// SignalSource is one place a signal's text comes from: a file of a public
// repository at a tag or commit (with optional lines), or an https URL of
// official documentation that quotes the text.
type SignalSource struct {
	Repo  string // "k3s-io/k3s"
	Ref   string // "v1.31.4+k3s1" or a commit
	Path  string // "pkg/certmonitor/certmonitor.go"
	Lines string // "L102" or "L102-L110", without '#'
	URL   string // set instead of the above for a documentation source
}

var (
	repoSourcePattern = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)@([^\s:@]+):([^\s#]+)(?:#(L\d+(?:-L\d+)?))?$`)
)

// ParseSignalSource reads "owner/repo@ref:path[#Lnn[-Lmm]]" or an https URL.
func ParseSignalSource(s string) (SignalSource, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return SignalSource{}, fmt.Errorf("source %q is not a valid URL", s)
		}
		return SignalSource{URL: s}, nil
	}
	m := repoSourcePattern.FindStringSubmatch(s)
	if m == nil {
		return SignalSource{}, fmt.Errorf("source %q: want owner/repo@ref:path[#Lnn] or an https:// URL of official documentation", s)
	}
	if strings.Contains(m[3], "..") || strings.HasPrefix(m[3], "/") {
		return SignalSource{}, fmt.Errorf("source %q: the path must be relative to the repository root", s)
	}
	return SignalSource{Repo: m[1], Ref: m[2], Path: m[3], Lines: m[4]}, nil
}

// String returns the source as written in a case file.
func (s SignalSource) String() string {
	if s.URL != "" {
		return s.URL
	}
	out := s.Repo + "@" + s.Ref + ":" + s.Path
	if s.Lines != "" {
		out += "#" + s.Lines
	}
	return out
}

// Link returns a browsable URL for the source: the documentation URL, or the
// file on GitHub at its ref (with its lines).
func (s SignalSource) Link() string {
	if s.URL != "" {
		return s.URL
	}
	u := "https://github.com/" + s.Repo + "/blob/" + url.PathEscape(s.Ref) + "/" + s.Path
	if s.Lines != "" {
		u += "#" + s.Lines
	}
	return u
}

// ParsedSources returns the signal's sources that parse; the case loader
// has already rejected those that do not.
func (s Signal) ParsedSources() []SignalSource {
	var out []SignalSource
	for _, src := range s.Sources {
		if p, err := ParseSignalSource(src); err == nil {
			out = append(out, p)
		}
	}
	return out
}
