package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// SourceUser is a detector that reads evidence besides objects and
// events: casebook.SourceLogs, casebook.SourceMetrics.
type SourceUser interface {
	EvidenceSources() []string
}

// sources says per case which evidence its detectors read and whether it
// was there, and adds the warnings of reading logs and metrics once.
func sources(st *cluster.State, detectors []Detector, warnings []casebook.Warning) ([]casebook.CaseSources, []casebook.Warning) {
	type used struct {
		kinds  map[casebook.Kind]bool
		extras map[string]bool
	}
	byCase := map[string]*used{}
	var ids []string
	for _, d := range detectors {
		u := byCase[d.CaseID()]
		if u == nil {
			u = &used{kinds: map[casebook.Kind]bool{}, extras: map[string]bool{}}
			byCase[d.CaseID()] = u
			ids = append(ids, d.CaseID())
		}
		for _, k := range d.Kinds() {
			u.kinds[k] = true
		}
		if s, ok := d.(SourceUser); ok {
			for _, e := range s.EvidenceSources() {
				u.extras[e] = true
			}
		}
	}
	sort.Strings(ids)
	var logs *cluster.Logs
	var metrics *cluster.Metrics
	var out []casebook.CaseSources
	for _, id := range ids {
		u := byCase[id]
		cs := casebook.CaseSources{CaseID: id}
		var objs []casebook.Kind
		for k := range u.kinds {
			if k != casebook.KindEvent {
				objs = append(objs, k)
			}
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i] < objs[j] })
		if len(objs) > 0 {
			cs.Sources = append(cs.Sources, kindsSource(st, casebook.SourceObjects, objs))
		}
		if u.kinds[casebook.KindEvent] {
			cs.Sources = append(cs.Sources, kindsSource(st, casebook.SourceEvents, []casebook.Kind{casebook.KindEvent}))
		}
		if u.extras[casebook.SourceLogs] {
			if logs == nil {
				logs = st.Logs()
				if logs.Err != nil {
					warnings = append(warnings, casebook.Warning{Source: "logs", Message: logs.Err.Error()})
				}
			}
			cs.Sources = append(cs.Sources, casebook.EvidenceSource{Source: casebook.SourceLogs, Available: logs.Available, Why: logs.Why})
		}
		if u.extras[casebook.SourceMetrics] {
			if metrics == nil {
				metrics = st.Metrics()
				if metrics.Err != nil {
					warnings = append(warnings, casebook.Warning{Source: "metrics", Message: metrics.Err.Error() + " (checks that need it were skipped)"})
				}
			}
			cs.Sources = append(cs.Sources, casebook.EvidenceSource{Source: casebook.SourceMetrics, Available: metrics.Available, Why: metrics.Why})
		}
		if u.extras[casebook.SourcePrometheus] {
			ok, why := st.PrometheusSource()
			cs.Sources = append(cs.Sources, casebook.EvidenceSource{Source: casebook.SourcePrometheus, Available: ok, Why: why})
		}
		out = append(out, cs)
	}
	return out, warnings
}

// kindsSource says whether the kinds could all be read.
func kindsSource(st *cluster.State, name string, kinds []casebook.Kind) casebook.EvidenceSource {
	var missing []string
	read := 0
	for _, k := range kinds {
		if cluster.IsPattern(k) {
			continue
		}
		if _, err := st.Objects(k, casebook.AllNamespaces); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", k, shortReason(err)))
			continue
		}
		read++
	}
	es := casebook.EvidenceSource{Source: name, Available: len(missing) == 0 || read > 0}
	switch {
	case len(missing) == 0:
		es.Why = "read"
	default:
		es.Why = "not read: " + strings.Join(missing, ", ")
	}
	return es
}

func shortReason(err error) string {
	switch {
	case errors.Is(err, casebook.ErrForbidden):
		return "forbidden"
	case errors.Is(err, casebook.ErrNotServed):
		return "not served"
	}
	return err.Error()
}
