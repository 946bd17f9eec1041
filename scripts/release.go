//go:build ignore

// scripts/release.go builds casebook's release artifacts into dist/:
//
//	go run scripts/release.go -version v0.2.0    # or: make release VERSION=v0.2.0
//
// Static binaries for linux/amd64, linux/arm64 and darwin/arm64 stamped
// with the version, the commit and the commit's date, a .tar.gz per
// platform with the READMEs, a CycloneDX SBOM per binary and SHA256SUMS.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/casebook-dev/casebook/internal/release"
)

func main() {
	version := flag.String("version", "", "version to stamp, e.g. v0.2.0 (default: git describe)")
	out := flag.String("out", "dist", "write the artifacts to `DIR`")
	only := flag.String("targets", "", "comma-separated GOOS/GOARCH list (default: all release targets)")
	flag.Parse()
	if err := run(*version, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(version, out, only string) error {
	if version == "" {
		version = git("describe", "--tags", "--always", "--dirty")
	}
	commit := git("rev-parse", "--short=12", "HEAD")
	// The commit's date, not the clock's, so a rebuild is the same build.
	date := git("log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ")
	if date == "" {
		date = time.Now().UTC().Format(time.RFC3339)
	}
	targets := release.Targets
	if only != "" {
		targets = nil
		for _, s := range strings.Split(only, ",") {
			goos, goarch, ok := strings.Cut(strings.TrimSpace(s), "/")
			if !ok {
				return fmt.Errorf("-targets %q: want GOOS/GOARCH", s)
			}
			targets = append(targets, release.Target{GOOS: goos, GOARCH: goarch})
		}
	}
	arts, err := release.Build(context.Background(), release.Options{
		Version: version, Commit: commit, Date: date, Dir: ".", Out: out, Targets: targets,
		Docs:         []string{"README.md", "README.zh-CN.md"},
		KrewTemplate: "deploy/krew/casebook.yaml",
		BaseURL:      "https://github.com/casebook-dev/casebook/releases/download",
		Log:          os.Stderr,
	})
	if err != nil {
		return err
	}
	for _, a := range arts {
		st, err := os.Stat(a.Binary)
		if err != nil {
			return err
		}
		fmt.Printf("%-14s %6.1f MB  %s  %s\n", a.Target, float64(st.Size())/1e6, a.Archive, a.SBOM)
	}
	fmt.Printf("%s/SHA256SUMS\n%s/casebook.yaml (krew manifest)\n", out, out)
	return nil
}

func git(args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
