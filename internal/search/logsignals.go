package search

// Signals returns the case signals found whole in text, per case index of
// the matcher's cases: the first pass of Match alone, without its scoring,
// for detectors that read long texts (container logs) and need verbatim
// evidence, not a ranking. Partial hits (fragments of a signal) are left out.
func (m *Matcher) Signals(text string) map[int][]SignalHit {
	lines := m.distinctLines(text)
	var out map[int][]SignalHit
	for ci, hits := range m.matchSignals(lines) {
		for _, h := range hits {
			if h.Partial {
				continue
			}
			if out == nil {
				out = map[int][]SignalHit{}
			}
			out[ci] = append(out[ci], h.SignalHit)
		}
	}
	return out
}
