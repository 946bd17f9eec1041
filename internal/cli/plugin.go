package cli

import (
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// The names under which kubectl runs casebook as a plugin: kubectl finds
// kubectl-casebook on PATH for `kubectl casebook ...`, and (kubectl 1.26 and
// later) runs kubectl_complete-casebook with the words typed so far to
// complete them (kubernetes/kubectl pkg/cmd/plugin/plugin_completion.go).
const (
	pluginName           = "kubectl-casebook"
	pluginCompletionName = "kubectl_complete-casebook"
)

// programName strips a directory and a Windows .exe suffix from argv[0].
func programName(argv0 string) string {
	name := argv0
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, ".exe")
}

func isPlugin(argv0 string) bool { return programName(argv0) == pluginName }

func isPluginCompletion(argv0 string) bool { return programName(argv0) == pluginCompletionName }

// asPlugin makes help, usage lines and examples read "kubectl casebook"
// instead of "casebook", so that what a plugin user copies from --help runs.
func asPlugin(root *cobra.Command) {
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[cobra.CommandDisplayNameAnnotation] = "kubectl casebook"
	var names []string
	for _, c := range root.Commands() {
		names = append(names, regexp.QuoteMeta(c.Name()))
	}
	// "casebook <subcommand>" not already preceded by "kubectl " or part
	// of a longer word or path.
	re := regexp.MustCompile(`(^|[^\w/.-])casebook (` + strings.Join(names, "|") + `)\b`)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Example = pluginText(re, c.Example)
		c.Long = pluginText(re, c.Long)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// pluginText puts "kubectl " before each match of re in s that kubectl
// does not already precede.
func pluginText(re *regexp.Regexp, s string) string {
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		at := m[3] // end of the leading character group: where "casebook" starts
		if strings.HasSuffix(s[:at], "kubectl ") {
			continue
		}
		b.WriteString(s[last:at])
		b.WriteString("kubectl ")
		last = at
	}
	b.WriteString(s[last:])
	return b.String()
}
