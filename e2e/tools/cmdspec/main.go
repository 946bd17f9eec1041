// Command cmdspec writes the command tree of kubectl — every subcommand with
// its flags, as kubectl's own cobra definitions declare them — as JSON. The
// case command check (internal/caseload) reads it to prove that every kubectl
// command the cases give exists at the version the test API server runs:
//
//	cd e2e/tools && go run ./cmdspec > ../../internal/caseload/testdata/commands/kubectl.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/kubectl/pkg/cmd"
)

// version is the kubectl module version this module pins (see go.mod).
const version = "v0.37.2"

type flag struct {
	Name      string `json:"name"`
	Short     string `json:"short,omitempty"`
	TakesArg  bool   `json:"takes_arg,omitempty"`
	Inherited bool   `json:"inherited,omitempty"`
}

type command struct {
	Flags    []flag              `json:"flags,omitempty"`
	Commands map[string]*command `json:"commands,omitempty"`
	Aliases  []string            `json:"aliases,omitempty"`
}

type spec struct {
	Tool    string   `json:"tool"`
	Source  string   `json:"source"`
	Root    *command `json:"root"`
	Comment string   `json:"comment"`
}

func walk(c *cobra.Command) *command {
	out := &command{Aliases: c.Aliases}
	add := func(fs *pflag.FlagSet, persistent bool) {
		fs.VisitAll(func(f *pflag.Flag) {
			out.Flags = append(out.Flags, flag{Name: f.Name, Short: f.Shorthand, TakesArg: f.NoOptDefVal == "", Inherited: persistent})
		})
	}
	add(c.LocalNonPersistentFlags(), false)
	add(c.PersistentFlags(), true)
	sort.Slice(out.Flags, func(i, j int) bool { return out.Flags[i].Name < out.Flags[j].Name })
	for _, sub := range c.Commands() {
		if out.Commands == nil {
			out.Commands = map[string]*command{}
		}
		out.Commands[sub.Name()] = walk(sub)
	}
	return out
}

func main() {
	root := cmd.NewDefaultKubectlCommand()
	root.InitDefaultHelpCmd()
	s := spec{
		Tool:    "kubectl",
		Source:  "k8s.io/kubectl@" + version + ": cmd.NewDefaultKubectlCommand(), walked by e2e/tools/cmdspec",
		Root:    walk(root),
		Comment: "generated: cd e2e/tools && go run ./cmdspec > ../../internal/caseload/testdata/commands/kubectl.json",
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
