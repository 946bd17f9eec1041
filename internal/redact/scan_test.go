package redact

import (
	"strings"
	"testing"
)

func TestScannerFindsAndTeamRules(t *testing.T) {
	s, err := NewScanner([]byte(`
[[rules]]
id = "acme-badge"
description = "ACME door badge codes"
regex = '''ACME-BADGE-([0-9]{6})'''
secretGroup = 1
keywords = ["acme-badge"]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, rule, secret string }{
		{"token ghp_" + strings.Repeat("a1B2", 9), "", "ghp_" + strings.Repeat("a1B2", 9)},
		{"curl -H 'Authorization: Bearer eyJzZWNyZXQiOiJ4In0.abc'", "", "eyJzZWNyZXQiOiJ4In0.abc"},
		{"badge ACME-BADGE-123456 opened", "acme-badge", "123456"},
		{"postgres://app:s3cr/et@x@db:5432/app", "casebook-url-password", "s3cr/et@x"},
		{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA", "casebook-private-key", ""},
	} {
		hits := s.Find(tc.text)
		found := false
		for _, h := range hits {
			if (tc.rule == "" || h.Rule == tc.rule) && (tc.secret == "" || strings.Contains(h.Secret, tc.secret)) {
				found = true
			}
		}
		if !found {
			t.Errorf("Find(%q) = %+v, want rule %q secret %q", tc.text, hits, tc.rule, tc.secret)
		}
	}
	if hits := s.Find("Readiness probe failed: Get \"http://10.42.0.7:8080/healthz\": context deadline exceeded"); len(hits) != 0 {
		t.Errorf("an ordinary event message has hits: %+v", hits)
	}
}

func TestScannerRefusesBadTeamRules(t *testing.T) {
	for name, toml := range map[string]string{
		"bad regex": "[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\n",
		"no regex":  "[[rules]]\nid = \"x\"\n",
		"no id":     "[[rules]]\nregex = 'x'\n",
		"extend":    "[extend]\nuseDefault = true\n[[rules]]\nid = \"x\"\nregex = 'x'\n",
		"not toml":  "[[rules\n",
		"no rules":  "title = \"x\"\n",
	} {
		if _, err := NewScanner([]byte(toml)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
