package redact

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

//go:embed rules.toml
var casebookRules string

// Scanner finds credentials in text with gitleaks' default rule set,
// casebook's rules (rules.toml) and a team's own.
type Scanner struct {
	d *detect.Detector
}

// Hit is one credential found in a text: the rule that found it and the
// secret itself (never written anywhere; it is what gets hashed).
type Hit struct {
	Rule   string
	Secret string
	// Match is the text the rule matched: the secret and its context.
	Match string
	// Line is the line of the scanned text the hit starts on (0-based).
	Line int
}

var quietGitleaks sync.Once

const defaultRulesName = "gitleaks default rules"

// NewScanner builds a scanner with gitleaks' default rules, casebook's and,
// when given, a team's rules in gitleaks' TOML format.
func NewScanner(teamRules []byte) (*Scanner, error) {
	// gitleaks logs to standard error through a package logger; its
	// messages are about git scans, not ours.
	quietGitleaks.Do(func() { logging.Logger = logging.Logger.Level(zerolog.Disabled) })
	base, err := translate(defaultRulesName, []byte(config.DefaultConfig))
	if err != nil {
		return nil, err
	}
	for _, extra := range []struct {
		name string
		toml []byte
	}{{"casebook rules", []byte(casebookRules)}, {"team rules", teamRules}} {
		if len(bytes.TrimSpace(extra.toml)) == 0 {
			continue
		}
		c, err := translate(extra.name, extra.toml)
		if err != nil {
			return nil, err
		}
		for _, id := range c.OrderedRules {
			if _, dup := base.Rules[id]; !dup {
				base.OrderedRules = append(base.OrderedRules, id)
			}
			base.Rules[id] = c.Rules[id]
		}
		for k := range c.Keywords {
			base.Keywords[k] = struct{}{}
		}
	}
	return &Scanner{d: detect.NewDetector(base)}, nil
}

// translate reads a gitleaks TOML config with a viper of its own (gitleaks'
// own loader uses viper's global instance). A config may not extend another
// (that would read files or URLs), and a rule's pattern must compile: gitleaks
// panics on one that does not.
func translate(name string, toml []byte) (config.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(bytes.NewReader(toml)); err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if e := vc.Extend; e.Path != "" || e.URL != "" || e.UseDefault || len(e.DisabledRules) > 0 {
		return config.Config{}, fmt.Errorf("%s: [extend] is not supported: casebook always uses gitleaks' default rules and its own", name)
	}
	if len(vc.Rules) == 0 {
		return config.Config{}, fmt.Errorf("%s: no [[rules]]", name)
	}
	for i, r := range vc.Rules {
		if r.ID == "" {
			return config.Config{}, fmt.Errorf("%s: rule %d has no id", name, i+1)
		}
		if r.Regex == "" && name != defaultRulesName {
			return config.Config{}, fmt.Errorf("%s: rule %s has no regex", name, r.ID)
		}
		for _, p := range []string{r.Regex, r.Path} {
			if p == "" {
				continue
			}
			if _, err := regexp.Compile(p); err != nil {
				return config.Config{}, fmt.Errorf("%s: rule %s: %w", name, r.ID, err)
			}
		}
	}
	c, err := vc.Translate()
	if err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// Rules returns the IDs of the scanner's rules.
func (s *Scanner) Rules() []string {
	ids := make([]string, 0, len(s.d.Config.Rules))
	for id := range s.d.Config.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Find returns the credentials in text.
func (s *Scanner) Find(text string) []Hit {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	var hits []Hit
	for _, f := range s.d.DetectString(text) {
		secret := f.Secret
		if secret == "" {
			secret = f.Match
		}
		if strings.TrimSpace(secret) == "" {
			continue
		}
		hits = append(hits, Hit{Rule: f.RuleID, Secret: secret, Match: f.Match, Line: f.StartLine})
	}
	return hits
}
