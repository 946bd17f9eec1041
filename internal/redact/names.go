package redact

import (
	"strings"
	"unicode"
)

// credentialWords are name parts that mark a value as a credential.
var credentialWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true, "pat": true, "pin": true,
	"secret": true, "token": true, "key": true, "apikey": true, "auth": true, "authorization": true,
	"credential": true, "credentials": true, "dsn": true, "private": true, "privatekey": true,
	"cookie": true, "session": true, "jwt": true, "bearer": true, "salt": true, "signature": true, "webhook": true,
}

// credentialInfixes mark a credential even inside a run-together name
// ("DBPASSWORD", "awssecretaccesskey", "PGPASS").
var credentialInfixes = []string{"password", "passwd", "pgpass", "secret", "token", "apikey", "accesskey", "privatekey", "credential"}

// looksLikeCredential reports whether a name (a label's) looks like it
// holds a credential. It is no longer what decides redaction (values are
// hashed unless a detector reads them); labels, which selectors must
// still match, use it as one of two tests.
func looksLikeCredential(name string) bool {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	lower := strings.ToLower(name)
	for _, in := range credentialInfixes {
		if strings.Contains(lower, in) {
			return true
		}
	}
	for _, w := range nameWords(name) {
		if credentialWords[w] {
			return true
		}
	}
	return false
}

// nameWords splits a name at separators and camelCase humps, lower-cased.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}
