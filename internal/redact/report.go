package redact

import (
	"encoding/json"
	"runtime/debug"
	"sort"
)

// maxItems bounds the items a report lists; the counts stay exact.
const maxItems = 20000

// Report says what a bundle's redaction hashed and dropped, by rule and
// path, never the values. It is written to the bundle as
// redaction-report.json.
type Report struct {
	Hash    string                    `json:"hash"`
	Scanner ScannerInfo               `json:"scanner"`
	Kept    map[string][]string       `json:"kept"`
	Counts  map[string]map[string]int `json:"counts"`
	Items   []Item                    `json:"items"`
	LeftOut int                       `json:"itemsLeftOut,omitempty"`
	seen    map[Item]bool
}

// ScannerInfo names the rule set kept values were scanned with.
type ScannerInfo struct {
	Gitleaks  string `json:"gitleaks"`
	Rules     int    `json:"rules"`
	TeamRules bool   `json:"teamRules"`
}

// Item is one value hashed or dropped: the object, the field path, the
// rule that decided it, and what was done.
type Item struct {
	Object string `json:"object"`
	Path   string `json:"path"`
	Rule   string `json:"rule"`
	Action string `json:"action"`
}

func newReport(s *Scanner, team bool) *Report {
	v := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/zricethezav/gitleaks/v8" {
				v = d.Version
			}
		}
	}
	return &Report{
		Hash:    "HMAC-SHA256 under a random key made for this bundle and not kept; the first 80 bits, in hex. Equal values in this bundle have equal hashes.",
		Scanner: ScannerInfo{Gitleaks: v, Rules: len(s.Rules()), TeamRules: team},
		Counts:  map[string]map[string]int{}, seen: map[Item]bool{},
	}
}

func (r *Report) add(object, path, rule, action string) {
	it := Item{Object: object, Path: path, Rule: rule, Action: action}
	if r.seen[it] {
		return
	}
	r.seen[it] = true
	if r.Counts[rule] == nil {
		r.Counts[rule] = map[string]int{}
	}
	r.Counts[rule][action]++
	if len(r.Items) < maxItems {
		r.Items = append(r.Items, it)
	} else {
		r.LeftOut++
	}
}

// JSON renders the report, its items sorted.
func (r *Report) JSON(keep *Keep) ([]byte, error) {
	sort.Slice(r.Items, func(i, j int) bool {
		a, b := r.Items[i], r.Items[j]
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Path < b.Path
	})
	if keep != nil {
		r.Kept = keep.By
	}
	return json.MarshalIndent(r, "", "  ")
}
