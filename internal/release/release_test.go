package release

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// TestBuildLinuxArm64 builds the edge nodes' release as scripts/release.go
// does and checks what a user gets: an arm64 ELF, static, stamped with the
// version, commit and date; an archive holding it; an SBOM that lists the
// modules linked into it; sums that match.
func TestBuildLinuxArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles casebook (a minute or more): not in -short")
	}
	out := t.TempDir()
	opts := Options{Version: "v0.0.0-test", Commit: "0123456789ab", Date: "2026-12-08T01:00:00Z",
		Dir: "../..", Out: out, Targets: []Target{{"linux", "arm64"}}, Docs: []string{"README.md"}}
	arts, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 {
		t.Fatalf("%d artifacts", len(arts))
	}
	a := arts[0]
	st, _ := os.Stat(a.Binary)
	t.Logf("linux/arm64: %.1f MB, built in %s", float64(st.Size())/1e6, a.BuildTime)

	f, err := elf.Open(a.Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("machine %v class %v, want EM_AARCH64 64-bit", f.Machine, f.Class)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}

	bi, err := buildinfo.ReadFile(a.Binary)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["GOARCH"] != "arm64" || settings["GOOS"] != "linux" || settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings %v", settings)
	}
	// The stamped strings are in the binary's data, where main reads them
	// (a -trimpath build does not record -ldflags in its build info).
	raw, err := os.ReadFile(a.Binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"v0.0.0-test", "0123456789ab", "2026-12-08T01:00:00Z"} {
		if !bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q is not in the binary", s)
		}
	}

	// The archive holds the binary (executable) and the docs.
	names := map[string]int64{}
	af, err := os.Open(a.Archive)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	gz, err := gzip.NewReader(af)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = h.Mode
	}
	if names["casebook_0.0.0-test_linux_arm64/casebook"] != 0o755 || names["casebook_0.0.0-test_linux_arm64/README.md"] == 0 {
		t.Errorf("archive entries %v", names)
	}

	// The SBOM decodes and lists the modules in the binary at their versions.
	sf, err := os.Open(a.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(sf, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.BOMFormat != "CycloneDX" || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Errorf("BOM header: spec %v format %q serial %q", bom.SpecVersion, bom.BOMFormat, bom.SerialNumber)
	}
	mc := bom.Metadata.Component
	if mc == nil || mc.Name != "github.com/casebook-dev/casebook" || mc.Version != "v0.0.0-test" || mc.Type != cdx.ComponentTypeApplication {
		t.Errorf("BOM's component %+v", mc)
	}
	got := map[string]string{}
	for _, c := range *bom.Components {
		got[c.Name] = c.Version
		if !strings.HasPrefix(c.PackageURL, "pkg:golang/"+c.Name+"@") {
			t.Errorf("component %s: purl %q", c.Name, c.PackageURL)
		}
	}
	if len(got) != len(bi.Deps) {
		t.Errorf("the SBOM lists %d modules, the binary %d", len(got), len(bi.Deps))
	}
	for _, m := range bi.Deps {
		if got[m.Path] != m.Version {
			t.Errorf("module %s: SBOM says %q, binary %q", m.Path, got[m.Path], m.Version)
		}
	}
	for _, must := range []string{"k8s.io/client-go", "github.com/spf13/cobra", "github.com/open-policy-agent/opa"} {
		if got[must] == "" {
			t.Errorf("the SBOM lacks %s", must)
		}
	}

	// SHA256SUMS matches, in sha256sum -c format.
	sums, err := os.Open(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	n := 0
	for sc := bufio.NewScanner(sums); sc.Scan(); n++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		data, err := os.ReadFile(filepath.Join(out, name))
		if !ok || err != nil {
			t.Fatalf("SHA256SUMS line %q: %v", sc.Text(), err)
		}
		h := sha256.Sum256(data)
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: sum does not match", name)
		}
	}
	if n != 2 {
		t.Errorf("SHA256SUMS has %d lines, want the archive and the SBOM", n)
	}
}

func TestSerialIsAUUID(t *testing.T) {
	a, b := serial([]byte("one binary")), serial([]byte("another"))
	if a == b || a != serial([]byte("one binary")) {
		t.Errorf("serials %s, %s: want one per content, stable", a, b)
	}
	// urn:uuid:xxxxxxxx-xxxx-8xxx-[89ab]xxx-xxxxxxxxxxxx
	if len(a) != 45 || a[23] != '8' || !strings.ContainsRune("89ab", rune(a[28])) {
		t.Errorf("serial %s is not a version 8 UUID", a)
	}
}
