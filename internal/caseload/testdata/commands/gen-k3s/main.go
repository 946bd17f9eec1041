// Command gen-k3s writes the command tree of k3s — every subcommand with its
// flags, as k3s's own urfave/cli definitions in pkg/cli/cmds declare them —
// for the case command check:
//
//	cd internal/caseload/testdata/commands/gen-k3s && go run . > ../k3s.json
//
// It is a module of its own so the main module does not depend on k3s.
package main

import (
	"encoding/json"
	"os"
	"runtime/debug"
	"sort"

	"github.com/k3s-io/k3s/pkg/cli/cmds"
	"github.com/urfave/cli/v2"
)

type flag struct {
	Name     string `json:"name,omitempty"`
	Short    string `json:"short,omitempty"`
	TakesArg bool   `json:"takes_arg,omitempty"`
}

type command struct {
	Flags    []flag              `json:"flags,omitempty"`
	Commands map[string]*command `json:"commands,omitempty"`
	Aliases  []string            `json:"aliases,omitempty"`
	Delegate string              `json:"delegate,omitempty"`
}

func flags(fs []cli.Flag) []flag {
	var out []flag
	for _, f := range fs {
		takes := true
		if _, ok := f.(*cli.BoolFlag); ok {
			takes = false
		}
		var fl flag
		fl.TakesArg = takes
		for _, n := range f.Names() {
			if len(n) == 1 {
				fl.Short = n
			} else if fl.Name == "" {
				fl.Name = n
			} else {
				out = append(out, flag{Name: n, TakesArg: takes})
			}
		}
		out = append(out, fl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name+out[i].Short < out[j].Name+out[j].Short })
	return out
}

func walk(c *cli.Command) *command {
	out := &command{Flags: flags(c.Flags), Aliases: c.Aliases}
	if c.SkipFlagParsing {
		out.Delegate = c.Name // k3s kubectl|crictl|ctr pass their arguments on
	}
	for _, s := range c.Subcommands {
		if out.Commands == nil {
			out.Commands = map[string]*command{}
		}
		out.Commands[s.Name] = walk(s)
	}
	return out
}

func main() {
	var a cli.ActionFunc
	app := cmds.NewApp()
	app.Commands = []*cli.Command{
		cmds.NewServerCommand(a), cmds.NewAgentCommand(a), cmds.NewKubectlCommand(a), cmds.NewCRICTL(a),
		cmds.NewCtrCommand(a), cmds.NewCheckConfigCommand(a),
		cmds.NewTokenCommands(a, a, a, a, a), cmds.NewEtcdSnapshotCommands(a, a, a, a),
		cmds.NewSecretsEncryptCommands(a, a, a, a, a, a, a), cmds.NewCertCommands(a, a, a),
		cmds.NewCompletionCommand(a, a),
	}
	root := &command{Flags: flags(app.Flags), Commands: map[string]*command{}}
	if !app.HideVersion {
		// urfave/cli adds its version flag to an app with a version.
		root.Flags = append(root.Flags, flags([]cli.Flag{cli.VersionFlag})...)
	}
	for _, c := range app.Commands {
		root.Commands[c.Name] = walk(c)
	}
	version := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/k3s-io/k3s" {
				version = d.Version
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	_ = enc.Encode(map[string]any{
		"tool":   "k3s",
		"source": "github.com/k3s-io/k3s@" + version + ": pkg/cli/cmds (the commands cmd/k3s/main.go registers), walked by internal/caseload/testdata/commands/gen-k3s",
		"root":   root,
	})
}
