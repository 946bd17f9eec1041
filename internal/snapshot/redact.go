package snapshot

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/casebook-dev/casebook/internal/kube"
)

// Redacted replaces every value casebook does not let out of a cluster.
const Redacted = "[REDACTED by casebook]"

// credentialWords are name parts that mark a value as a credential.
var credentialWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true,
	"secret": true, "token": true, "key": true, "apikey": true, "auth": true, "authorization": true,
	"credential": true, "credentials": true, "dsn": true, "private": true, "privatekey": true,
	"cookie": true, "session": true, "jwt": true, "bearer": true, "salt": true, "signature": true,
}

// credentialInfixes mark a credential even inside a run-together name
// ("DBPASSWORD", "awssecretaccesskey").
var credentialInfixes = []string{"password", "passwd", "secret", "token", "apikey", "accesskey", "privatekey", "credential"}

// LooksLikeCredential reports whether a name (an environment variable, a
// ConfigMap key, an annotation) looks like it holds a credential.
func LooksLikeCredential(name string) bool {
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

var (
	// inlineCredential finds `password: x`, `"token": "x"`, `API_KEY=x` inside text.
	inlineCredential = regexp.MustCompile(`(?im)(["']?[\w.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\w.-]*["']?\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\s,;}\n]+)`)
	// urlUserinfo finds the password in scheme://user:password@host.
	urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)([^@\s/]+)(@)`)
	// pemKey finds PEM private keys.
	pemKey = regexp.MustCompile(`(?s)-----BEGIN ([A-Z ]*PRIVATE KEY)-----.*?-----END [A-Z ]*PRIVATE KEY-----`)
	// flagCredential finds --password=x in command lines.
	flagCredential = regexp.MustCompile(`^(--?[\w.-]+=)(.*)$`)
)

// RedactText scrubs credentials written inside a text value: key/value
// pairs with credential names, passwords in URLs and PEM private keys.
func RedactText(s string) string {
	s = pemKey.ReplaceAllString(s, "-----BEGIN $1-----\n"+Redacted+"\n-----END $1-----")
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Redacted+"${3}")
	return inlineCredential.ReplaceAllStringFunc(s, func(m string) string {
		sub := inlineCredential.FindStringSubmatch(m)
		if strings.Contains(sub[2], Redacted) {
			return m
		}
		return sub[1] + Redacted
	})
}

// Redact returns obj as a map with everything casebook does not let out of
// a cluster removed: a Secret keeps only its metadata; every object loses
// its managed fields and kubectl's last-applied copy; environment values,
// command-line flags and annotations with credential names, and ConfigMap
// keys with credential names are replaced, and credentials written inside
// other ConfigMap values are scrubbed.
func Redact(kind string, obj runtime.Object) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, kube.LastApplied)
			for k, v := range ann {
				if s, ok := v.(string); ok && LooksLikeCredential(annotationName(k)) && s != "" {
					ann[k] = Redacted
				}
			}
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	switch kind {
	case "Secret":
		out := map[string]any{"apiVersion": m["apiVersion"], "kind": m["kind"]}
		if md, ok := m["metadata"]; ok {
			out["metadata"] = md
		}
		return out, nil
	case "ConfigMap":
		for _, field := range []string{"data", "binaryData"} {
			data, ok := m[field].(map[string]any)
			if !ok {
				continue
			}
			for k, v := range data {
				s, _ := v.(string)
				switch {
				case LooksLikeCredential(k) && field == "data":
					data[k] = Redacted
				case field == "binaryData":
					// Opaque bytes cannot be scrubbed, so they do not leave.
					data[k] = base64.StdEncoding.EncodeToString([]byte(Redacted))
				default:
					data[k] = RedactText(s)
				}
			}
		}
	}
	walk(m)
	return m, nil
}

// annotationName is an annotation key without its prefix.
func annotationName(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// walk redacts environment values and credential flags wherever they
// appear: pods, pod templates, CRDs that embed containers.
func walk(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			switch k {
			case "env":
				redactEnv(child)
			case "args", "command":
				redactArgs(child)
			}
			walk(child)
		}
	case []any:
		for _, child := range t {
			walk(child)
		}
	}
}

func redactEnv(v any) {
	list, ok := v.([]any)
	if !ok {
		return
	}
	for _, item := range list {
		e, ok := item.(map[string]any)
		if !ok {
			continue
		}
		name, _ := e["name"].(string)
		value, has := e["value"].(string)
		if !has || value == "" {
			continue
		}
		if LooksLikeCredential(name) {
			e["value"] = Redacted
		} else {
			e["value"] = RedactText(value)
		}
	}
}

func redactArgs(v any) {
	list, ok := v.([]any)
	if !ok {
		return
	}
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			continue
		}
		if m := flagCredential.FindStringSubmatch(s); m != nil && LooksLikeCredential(strings.TrimLeft(m[1], "-=")) {
			list[i] = m[1] + Redacted
			continue
		}
		if strings.HasPrefix(s, "-") && !strings.Contains(s, "=") && LooksLikeCredential(strings.TrimLeft(s, "-")) && i+1 < len(list) {
			if next, ok := list[i+1].(string); ok && !strings.HasPrefix(next, "-") {
				list[i+1] = Redacted
			}
			continue
		}
		if i > 0 {
			if prev, ok := list[i-1].(string); ok && strings.HasPrefix(prev, "-") && !strings.Contains(prev, "=") && LooksLikeCredential(strings.TrimLeft(prev, "-")) {
				continue
			}
		}
		list[i] = RedactText(s)
	}
}
