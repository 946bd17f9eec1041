// Command casebook is the troubleshooting casebook for edge clusters.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/casebook-dev/casebook/internal/cli"
	"github.com/casebook-dev/casebook/internal/detectors"
)

// Set at build time by scripts/release:
// -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234 -X main.date=2026-12-08T01:00:00Z".
var (
	version = ""
	commit  = ""
	date    = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	f := &cli.Factory{IO: cli.System(), DetectedCases: detectors.IDs, Program: os.Args[0]}
	f.Version, f.Commit, f.Date = buildInfo()
	code := cli.Run(ctx, f, os.Args[1:])
	stop()
	os.Exit(code)
}

// buildInfo prefers the stamped values, then what the Go toolchain
// recorded: the module version for `go install ...@v1.2.3`, the VCS
// revision and time for a build in a git checkout.
func buildInfo() (v, c, d string) {
	v, c, d = version, commit, date
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orDev(v), c, d
	}
	if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && c == "":
			c = s.Value
		case s.Key == "vcs.time" && d == "":
			d = s.Value
		}
	}
	return orDev(v), c, d
}

func orDev(v string) string {
	if v == "" {
		return "dev"
	}
	return v
}
