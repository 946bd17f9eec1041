package redact

import (
	"sort"
	"strings"
)

// Text returns free text (a container's log tail) with every credential
// the scanner finds replaced by its keyed hash, each recorded in the report
// under object and path. Logs are kept as text, not by field: the scanner
// is what stands between them and the bundle.
func (r *Redactor) Text(object, path, text string) string {
	hits := r.scan.Find(text)
	// Longer secrets first, so one inside another is replaced whole.
	sort.Slice(hits, func(i, j int) bool { return len(hits[i].Secret) > len(hits[j].Secret) })
	for _, h := range hits {
		if !strings.Contains(text, h.Secret) {
			continue
		}
		text = strings.ReplaceAll(text, h.Secret, r.Hash(h.Secret))
		r.rep.add(object, path, "scanner:"+h.Rule, "hashed")
	}
	return text
}
