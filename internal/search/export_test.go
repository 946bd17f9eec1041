package search

import casebook "github.com/casebook-dev/casebook"

// Features returns, for every case of the library, the reranker's features
// for the text, keyed by case ID; the training test fits the model on them.
func (m *Matcher) Features(text string) map[string][]float64 {
	out := map[string][]float64{}
	for _, r := range m.evaluate(text).results {
		out[r.Case.ID] = append([]float64(nil), r.x[:]...)
	}
	return out
}

// NewMatcherWithModel builds a matcher that uses the given model instead of
// the shipped one.
func NewMatcherWithModel(cases []*casebook.Case, model []byte) (*Matcher, bool) {
	old := rerankData
	rerankData = model
	defer func() { rerankData = old }()
	m := NewMatcher(cases)
	return m, m.modelOK
}

// FeatureNames lists the reranker's features in order.
func FeatureNames() []string { return featureNames[:] }

// RerankModel and TreeNode are the reranker's model as rerank.json holds it.
type (
	RerankModel = rerankModel
	TreeNode    = treeNode
)
