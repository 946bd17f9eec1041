package snapshot

import (
	"bytes"

	"sigs.k8s.io/yaml"
)

// YAML → JSON conversion builds a tree of the whole document first, which
// costs far more than the document (about 700 bytes a node: a 12 MiB List
// of labelled Pods took 650 MiB to convert). A `kind: List`, the shape
// kubectl and collect write, is converted an item at a time instead, and
// every conversion reserves its estimated cost in the budget while it runs.

// yamlNodeCost is the memory a YAML node takes while it is converted,
// measured with sigs.k8s.io/yaml v1.6.
const yamlNodeCost = 700

func yamlTransientCost(doc []byte) int64 {
	nodes := bytes.Count(doc, []byte{':'}) + bytes.Count(doc, []byte{','}) + bytes.Count(doc, []byte{'\n'})
	return 2*int64(len(doc)) + yamlNodeCost*int64(nodes)
}

// yamlToJSON converts one YAML document within the budget b (nil: none).
func yamlToJSON(doc []byte, b *budget) ([]byte, error) {
	if head, items, ok := splitYAMLList(doc); ok {
		if j, err := listToJSON(head, items, b); err == nil {
			return j, nil
		}
		// Anything the split misread (an alias across items, odd
		// indentation) is converted whole, as before.
	}
	return convertYAML(doc, b)
}

func convertYAML(doc []byte, b *budget) ([]byte, error) {
	cost := yamlTransientCost(doc)
	if err := b.reserve(cost); err != nil {
		return nil, err
	}
	defer b.release(cost)
	return yaml.YAMLToJSON(doc)
}

func listToJSON(head []byte, items [][]byte, b *budget) ([]byte, error) {
	hj, err := convertYAML(head, b)
	if err != nil {
		return nil, err
	}
	hj = bytes.TrimSpace(hj)
	if len(hj) < 2 || hj[0] != '{' || hj[len(hj)-1] != '}' {
		return nil, errNotList
	}
	out := append([]byte(nil), hj[:len(hj)-1]...)
	if len(hj) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"items":[`...)
	for i, it := range items {
		ij, err := convertYAML(it, b)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, ij...)
	}
	return append(out, "]}"...), nil
}

type listError struct{}

func (listError) Error() string { return "not a list" }

var errNotList error = listError{}

// splitYAMLList splits a document with a block sequence under a top-level
// "items:" key into the document without it (head) and each item, moved
// left to stand alone. ok is false for any other shape.
func splitYAMLList(doc []byte) (head []byte, items [][]byte, ok bool) {
	lines := bytes.SplitAfter(doc, []byte("\n"))
	start := -1
	for i, ln := range lines {
		if bytes.Equal(bytes.TrimRight(ln, " \r\n"), []byte("items:")) {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, nil, false
	}
	indent := -1
	var cur []byte
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		ln := lines[i]
		t := bytes.TrimLeft(ln, " ")
		n := len(ln) - len(t)
		blank := len(bytes.TrimSpace(t)) == 0
		if indent < 0 {
			if blank {
				continue
			}
			if !isItemStart(t) {
				return nil, nil, false
			}
			indent = n
		}
		switch {
		case blank:
			cur = append(cur, '\n')
		case n == indent && isItemStart(t):
			if cur != nil {
				items = append(items, cur)
			}
			// "- key: v" holds the item's first line after the dash.
			cur = append([]byte(nil), bytes.TrimPrefix(t[1:], []byte(" "))...)
		case n > indent+1:
			cur = append(cur, ln[indent+2:]...)
		case t[0] == '#':
			continue
		default:
			end = i
		}
		if end != len(lines) {
			break
		}
	}
	if cur != nil {
		items = append(items, cur)
	}
	if len(items) == 0 {
		return nil, nil, false
	}
	for _, ln := range lines[:start] {
		head = append(head, ln...)
	}
	for _, ln := range lines[end:] {
		head = append(head, ln...)
	}
	return head, items, true
}

// isItemStart reports whether a line, without its indentation, starts a
// sequence item.
func isItemStart(t []byte) bool {
	return len(t) > 0 && t[0] == '-' && (len(t) == 1 || t[1] == ' ' || t[1] == '\n' || t[1] == '\r')
}
