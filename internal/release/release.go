// Package release builds casebook's release artifacts: static binaries for
// the platforms edge clusters and their operators run, stamped with the
// version, commit and date; a .tar.gz per platform; a CycloneDX SBOM per
// binary, made from the module list the Go linker embedded in it; and a
// SHA256SUMS file over all of them. scripts/release.go runs it.
package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/template"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Target is a platform to build for.
type Target struct{ GOOS, GOARCH string }

func (t Target) String() string { return t.GOOS + "/" + t.GOARCH }

// Targets are the release platforms: x86 servers, the arm64 edge nodes,
// and Apple silicon workstations.
var Targets = []Target{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "arm64"}}

// Options describe one release.
type Options struct {
	// Version, Commit and Date are stamped into main.version, main.commit
	// and main.date.
	Version, Commit, Date string
	// Dir is the module root (where go.mod is); Out the directory the
	// artifacts are written to.
	Dir, Out string
	Targets  []Target
	// Package is the main package to build (default ./cmd/casebook).
	Package string
	// Docs are files, relative to Dir, put in each archive beside the binary.
	Docs []string
	// KrewTemplate, relative to Dir, is the krew plugin manifest template
	// (deploy/krew/casebook.yaml); when set, Build writes casebook.yaml,
	// the manifest of this release, beside the archives.
	KrewTemplate string
	// BaseURL is where the archives are published: an archive's URL is
	// BaseURL/<version>/<archive name>.
	BaseURL string
	// Log receives a line per step; nil discards them.
	Log io.Writer
}

// Artifact is one built file.
type Artifact struct {
	Target Target
	// Binary is the built executable; Archive the .tar.gz holding it and
	// the docs; SBOM the CycloneDX JSON of the binary.
	Binary, Archive, SBOM string
	// BuildTime is how long go build took.
	BuildTime time.Duration
}

// Build builds every target and writes the archives, SBOMs and SHA256SUMS
// to opts.Out.
func Build(ctx context.Context, opts Options) ([]Artifact, error) {
	if opts.Version == "" {
		return nil, fmt.Errorf("release: no version")
	}
	if opts.Package == "" {
		opts.Package = "./cmd/casebook"
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	var arts []Artifact
	var sums []string
	for _, t := range opts.Targets {
		a, err := buildOne(ctx, opts, t)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", t, err)
		}
		fmt.Fprintf(opts.Log, "built %s in %s\n", t, a.BuildTime.Round(time.Second))
		arts = append(arts, a)
		sums = append(sums, a.Archive, a.SBOM)
	}
	if err := writeSums(filepath.Join(opts.Out, "SHA256SUMS"), sums); err != nil {
		return nil, err
	}
	if opts.KrewTemplate != "" {
		tmpl, err := os.ReadFile(filepath.Join(opts.Dir, opts.KrewTemplate))
		if err != nil {
			return nil, err
		}
		m, err := KrewManifest(tmpl, opts.Version, opts.BaseURL, arts)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(opts.Out, "casebook.yaml"), m, 0o644); err != nil {
			return nil, err
		}
	}
	return arts, nil
}

// KrewManifest fills the krew plugin manifest template with the release's
// version and, per archive, its platform, URL, SHA-256 and top directory.
func KrewManifest(tmpl []byte, version, baseURL string, arts []Artifact) ([]byte, error) {
	t, err := template.New("krew").Option("missingkey=error").Parse(string(tmpl))
	if err != nil {
		return nil, fmt.Errorf("krew manifest template: %w", err)
	}
	type platform struct{ GOOS, GOARCH, URI, SHA256, Dir string }
	data := struct {
		Version   string
		Platforms []platform
	}{Version: version}
	for _, a := range arts {
		raw, err := os.ReadFile(a.Archive)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		name := filepath.Base(a.Archive)
		data.Platforms = append(data.Platforms, platform{GOOS: a.Target.GOOS, GOARCH: a.Target.GOARCH,
			URI: strings.TrimSuffix(baseURL, "/") + "/" + version + "/" + name, SHA256: hex.EncodeToString(sum[:]),
			Dir: strings.TrimSuffix(name, ".tar.gz")})
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("krew manifest: %w", err)
	}
	return b.Bytes(), nil
}

func ldflags(opts Options) string {
	return fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s -X main.date=%s", opts.Version, opts.Commit, opts.Date)
}

func buildOne(ctx context.Context, opts Options, t Target) (Artifact, error) {
	name := fmt.Sprintf("casebook_%s_%s_%s", strings.TrimPrefix(opts.Version, "v"), t.GOOS, t.GOARCH)
	dir := filepath.Join(opts.Out, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Artifact{}, err
	}
	a := Artifact{Target: t, Binary: filepath.Join(dir, "casebook"),
		Archive: filepath.Join(opts.Out, name+".tar.gz"), SBOM: filepath.Join(opts.Out, name+".cdx.json")}
	bin, err := filepath.Abs(a.Binary)
	if err != nil {
		return a, err
	}
	// Static: no cgo, so the binary runs on any Linux, musl or glibc, and
	// on distroless images.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags(opts), "-o", bin, opts.Package)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.GOOS, "GOARCH="+t.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return a, fmt.Errorf("go build: %w\n%s", err, stderr.String())
	}
	a.BuildTime = time.Since(start)

	files := []string{a.Binary}
	for _, d := range opts.Docs {
		files = append(files, filepath.Join(opts.Dir, d))
	}
	if err := writeArchive(a.Archive, name, files); err != nil {
		return a, err
	}
	f, err := os.Create(a.SBOM)
	if err != nil {
		return a, err
	}
	defer f.Close()
	bom, err := SBOM(a.Binary, opts.Version, opts.Date)
	if err != nil {
		return a, err
	}
	enc := cdx.NewBOMEncoder(f, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return a, fmt.Errorf("write SBOM: %w", err)
	}
	return a, f.Close()
}

// writeArchive writes files into a .tar.gz under the directory prefix,
// with fixed times and owners so that two builds of one commit make the
// same archive.
func writeArchive(path, prefix string, files []string) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		hdr := &tar.Header{Name: prefix + "/" + filepath.Base(f), Mode: mode, Size: int64(len(data)),
			ModTime: time.Unix(0, 0), Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeSums writes files' SHA-256 sums as sha256sum -c reads them.
func writeSums(path string, files []string) error {
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), filepath.Base(f))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// SBOM describes a Go binary as a CycloneDX BOM: the main module as the
// application, and every module the linker put in it as a library with its
// version, package URL and go.sum hash. It reads what the binary itself
// records (debug/buildinfo), so it lists exactly what was linked, for the
// platform it was built for. version is the one stamped into it (Go does
// not record -ldflags in a -trimpath build); date is the BOM's timestamp
// (RFC 3339). The serial number is derived from the binary's hash, so the
// same binary always gets the same BOM.
func SBOM(binary, version, date string) (*cdx.BOM, error) {
	raw, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	bi, err := buildinfo.Read(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read build info of %s: %w", binary, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if version == "" {
		version = bi.Main.Version
	}
	main := cdx.Component{
		BOMRef: purl(bi.Main.Path, version), Type: cdx.ComponentTypeApplication,
		Name: bi.Main.Path, Version: version, PackageURL: purl(bi.Main.Path, version),
		Properties: &[]cdx.Property{
			{Name: "go:version", Value: bi.GoVersion},
			{Name: "go:GOOS", Value: settings["GOOS"]},
			{Name: "go:GOARCH", Value: settings["GOARCH"]},
			{Name: "go:CGO_ENABLED", Value: settings["CGO_ENABLED"]},
		},
	}
	var comps []cdx.Component
	var refs []string
	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c := cdx.Component{BOMRef: purl(m.Path, m.Version), Type: cdx.ComponentTypeLibrary,
			Name: m.Path, Version: m.Version, PackageURL: purl(m.Path, m.Version), Scope: cdx.ScopeRequired}
		if m.Sum != "" {
			c.Properties = &[]cdx.Property{{Name: "go:sum", Value: m.Sum}}
		}
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = serial(raw)
	bom.Metadata = &cdx.Metadata{
		Timestamp: date,
		Component: &main,
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeLibrary,
			Name: "github.com/CycloneDX/cyclonedx-go", PackageURL: "pkg:golang/github.com/CycloneDX/cyclonedx-go"}}},
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: main.BOMRef, Dependencies: &refs}}
	return bom, nil
}

// purl is a Go module's package URL (github.com/package-url/purl-spec,
// type golang).
func purl(path, version string) string {
	p := "pkg:golang/" + path
	if version != "" && version != "(devel)" {
		p += "@" + version
	}
	return p
}

// serial is a urn:uuid made from the SHA-256 of data, with the version
// and variant bits of a name-based UUID (RFC 9562, version 8).
func serial(data []byte) string {
	h := sha256.Sum256(data)
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return fmt.Sprintf("urn:uuid:%s-%s-%s-%s-%s", x[:8], x[8:12], x[12:16], x[16:20], x[20:32])
}

// HostTarget is the platform this process runs on.
func HostTarget() Target { return Target{runtime.GOOS, runtime.GOARCH} }
