package cluster

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
)

// K3s annotations on Node objects.
const (
	// AnnotationNodeArgs holds the K3s command-line flags as a JSON array,
	// each flag and value its own element.
	AnnotationNodeArgs = "k3s.io/node-args"
)

// NodeIndex holds the nodes with their K3s annotations parsed once.
type NodeIndex struct {
	nodes  []*corev1.Node
	byName map[string]*corev1.Node
	args   map[string][]string
}

// Nodes returns the nodes, sorted by name.
func (s *State) Nodes() ([]*corev1.Node, error) {
	return List[corev1.Node](s, casebook.KindNode, "")
}

// NodeIndex returns the node index; unreadable nodes leave it empty.
func (s *State) NodeIndex() (*NodeIndex, error) {
	nodes, err := s.Nodes()
	return s.nodes.get(func() *NodeIndex {
		idx := &NodeIndex{nodes: nodes, byName: make(map[string]*corev1.Node, len(nodes)), args: map[string][]string{}}
		for _, n := range nodes {
			idx.byName[n.Name] = n
			if a := parseNodeArgs(n.Annotations[AnnotationNodeArgs]); a != nil {
				idx.args[n.Name] = a
			}
		}
		return idx
	}), err
}

// All returns every node.
func (idx *NodeIndex) All() []*corev1.Node { return idx.nodes }

// Get returns a node by name, or nil.
func (idx *NodeIndex) Get(name string) *corev1.Node { return idx.byName[name] }

// Args returns a K3s node's command-line flags from k3s.io/node-args, nil
// when the node has none or they do not parse.
func (idx *NodeIndex) Args(node string) []string { return idx.args[node] }

// Disables returns the first node whose K3s server was started with
// --disable for a packaged component ("traefik", "local-storage").
func (idx *NodeIndex) Disables(component string) (*corev1.Node, bool) {
	for _, n := range idx.nodes {
		args := idx.args[n.Name]
		for i, a := range args {
			var values []string
			switch {
			case a == "--disable" && i+1 < len(args):
				values = strings.Split(args[i+1], ",")
			case strings.HasPrefix(a, "--disable="):
				values = strings.Split(strings.TrimPrefix(a, "--disable="), ",")
			}
			for _, v := range values {
				if strings.TrimSpace(v) == component {
					return n, true
				}
			}
		}
	}
	return nil, false
}

// Flag returns the value of a K3s flag on a node ("--flannel-backend"),
// given as "--flag value" or "--flag=value".
func (idx *NodeIndex) Flag(node, flag string) (string, bool) {
	args := idx.args[node]
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

func parseNodeArgs(s string) []string {
	var args []string
	if s == "" || json.Unmarshal([]byte(s), &args) != nil {
		return nil
	}
	return args
}
