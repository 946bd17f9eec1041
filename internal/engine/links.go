package engine

import (
	"fmt"
	"sort"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// maxDepth bounds the walk up the object graph: Ingress → Service → Pod →
// PersistentVolumeClaim → PersistentVolume is four steps.
const maxDepth = 5

// nodeFaults are the cases whose findings on a Node break the pods on it
// (its network, its agent): only they explain a pod's finding through the
// pod's node. A certificate that expires next month explains nothing yet.
var nodeFaults = map[string]bool{"N-001": true, "K-001": true}

// Explainer is a detector some of whose causes are symptoms another
// finding can explain (a Service with no ready endpoint), as opposed to
// faults in their own right (a selector with a typo). Only those are ever
// shown as consequences.
type Explainer interface {
	Symptom(cause string) bool
}

// Bystander is a detector some of whose causes explain no other finding
// however the objects relate: a policy breach (an image from the wrong
// registry) on a pod breaks nothing a webhook timeout on that pod's
// Service comes from. A team's rule declares them (docs/rules.md).
type Bystander interface {
	ExplainsNothing(cause string) bool
}

// link gives each finding an ID and links findings to the findings that
// explain them. Only a symptom (Explainer) is explained; G explains F when
// an object of G that F does not name is
// upstream of an object of F (cluster.State.Upstream), and no object of F
// that G does not name is upstream of G. Links implied by others (G → H →
// F) are dropped, so each finding hangs under its nearest cause. The
// findings come back with roots first, each followed by what it explains.
func link(st *cluster.State, fs []casebook.Finding, detectors map[string]Detector) []casebook.Finding {
	ids := map[string]int{}
	for i := range fs {
		id := fs[i].CaseID + "/" + fs[i].Cause
		if len(fs[i].Objects) > 0 {
			o := fs[i].Objects[0]
			id += "/" + o.Kind + "/"
			if o.Namespace != "" {
				id += o.Namespace + "/"
			}
			id += o.Name
		}
		if n := ids[id]; n > 0 {
			ids[id] = n + 1
			id = fmt.Sprintf("%s#%d", id, n+1)
		} else {
			ids[id] = 1
		}
		fs[i].ID, fs[i].CausedBy, fs[i].Causes = id, nil, nil
	}
	if st == nil || len(fs) < 2 {
		return fs
	}

	// up[i] is every object upstream of finding i's objects.
	up := make([]map[casebook.ObjectRef]bool, len(fs))
	memo := map[casebook.ObjectRef][]casebook.ObjectRef{}
	upstream := func(o casebook.ObjectRef) []casebook.ObjectRef {
		if u, ok := memo[o]; ok {
			return u
		}
		u := st.Upstream(o)
		memo[o] = u
		return u
	}
	for i, f := range fs {
		seen := map[casebook.ObjectRef]bool{}
		frontier := append([]casebook.ObjectRef(nil), f.Objects...)
		for depth := 0; depth < maxDepth && len(frontier) > 0; depth++ {
			var next []casebook.ObjectRef
			for _, o := range frontier {
				for _, u := range upstream(o) {
					if !seen[u] {
						seen[u] = true
						next = append(next, u)
					}
				}
			}
			frontier = next
		}
		up[i] = seen
	}
	symptom := make([]bool, len(fs))
	for i, f := range fs {
		if e, ok := detectors[f.CaseID].(Explainer); ok {
			symptom[i] = e.Symptom(f.Cause)
		}
	}
	explains := func(g, f int) bool {
		if !symptom[f] {
			return false
		}
		if b, ok := detectors[fs[g].CaseID].(Bystander); ok && b.ExplainsNothing(fs[g].Cause) {
			return false
		}
		own := map[casebook.ObjectRef]bool{}
		for _, o := range fs[f].Objects {
			own[o] = true
		}
		for _, o := range fs[g].Objects {
			if own[o] || !up[f][o] {
				continue
			}
			if o.Kind == string(casebook.KindNode) && !nodeFaults[fs[g].CaseID] {
				continue
			}
			return true
		}
		return false
	}
	n := len(fs)
	edge := make([][]bool, n) // edge[g][f]: g explains f
	for g := range n {
		edge[g] = make([]bool, n)
	}
	for g := range n {
		for f := range n {
			if g != f && explains(g, f) && !explains(f, g) {
				edge[g][f] = true
			}
		}
	}
	// Drop links implied by a longer path.
	reach := make([][]bool, n)
	for g := range n {
		reach[g] = append([]bool(nil), edge[g]...)
	}
	for k := range n {
		for g := range n {
			if !reach[g][k] {
				continue
			}
			for f := range n {
				if reach[k][f] {
					reach[g][f] = true
				}
			}
		}
	}
	for g := range n {
		for f := range n {
			if !edge[g][f] {
				continue
			}
			for k := range n {
				if k != g && k != f && reach[g][k] && reach[k][f] {
					edge[g][f] = false
					break
				}
			}
		}
	}
	for g := range n {
		for f := range n {
			if edge[g][f] && !reach[f][g] {
				fs[f].CausedBy = append(fs[f].CausedBy, fs[g].ID)
				fs[g].Causes = append(fs[g].Causes, fs[f].ID)
			}
		}
	}
	return rootsFirst(fs)
}

// rootsFirst orders findings as a report reads them: each root cause (in
// the findings' order), then what it explains, depth first.
func rootsFirst(fs []casebook.Finding) []casebook.Finding {
	byID := map[string]int{}
	for i, f := range fs {
		byID[f.ID] = i
	}
	out := make([]casebook.Finding, 0, len(fs))
	placed := map[string]bool{}
	var visit func(i int)
	visit = func(i int) {
		if placed[fs[i].ID] {
			return
		}
		placed[fs[i].ID] = true
		out = append(out, fs[i])
		kids := append([]string(nil), fs[i].Causes...)
		sort.SliceStable(kids, func(a, b int) bool { return byID[kids[a]] < byID[kids[b]] })
		for _, k := range kids {
			visit(byID[k])
		}
	}
	for i, f := range fs {
		if len(f.CausedBy) == 0 {
			visit(i)
		}
	}
	for i := range fs { // a cycle no root reaches stands on its own
		visit(i)
	}
	return out
}
