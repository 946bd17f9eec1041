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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"sigs.k8s.io/yaml"
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
		Dir: "../..", Out: out, Targets: []Target{{"linux", "arm64"}}, Docs: []string{"README.md"},
		KrewTemplate: "deploy/krew/casebook.yaml", BaseURL: "https://github.com/casebook-dev/casebook/releases/download"}
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
	krewValidate(t, filepath.Join(out, "casebook.yaml"))
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

// krewValidate runs krew's own manifest validator (validate-krew-manifest
// from sigs.k8s.io/krew, which scripts/test builds from the Go module
// proxy) on a manifest, without installing it (that would download the
// archives). It skips without the validator unless CASEBOOK_REQUIRE_KREW=1.
func krewValidate(t *testing.T, manifest string) {
	t.Helper()
	bin := os.Getenv("CASEBOOK_KREW_VALIDATE")
	if bin == "" {
		if os.Getenv("CASEBOOK_REQUIRE_KREW") == "1" {
			t.Fatal("CASEBOOK_REQUIRE_KREW=1 but CASEBOOK_KREW_VALIDATE is unset")
		}
		t.Skip("CASEBOOK_KREW_VALIDATE unset: krew's validator is not built (scripts/test builds it)")
	}
	out, err := exec.Command(bin, "-manifest", manifest, "-skip-install").CombinedOutput()
	if err != nil {
		t.Errorf("validate-krew-manifest %s: %v\n%s", manifest, err, out)
	}
}

// TestKrewManifest fills deploy/krew/casebook.yaml for three archives and
// checks it: what krew reads (platform selectors, URLs, sums, the binary)
// and krew's own validation.
func TestKrewManifest(t *testing.T) {
	dir := t.TempDir()
	var arts []Artifact
	for _, tg := range Targets {
		a := Artifact{Target: tg, Archive: filepath.Join(dir, "casebook_1.2.3_"+tg.GOOS+"_"+tg.GOARCH+".tar.gz")}
		if err := os.WriteFile(a.Archive, []byte("archive for "+tg.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		arts = append(arts, a)
	}
	tmpl, err := os.ReadFile("../../deploy/krew/casebook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := KrewManifest(tmpl, "v1.2.3", "https://github.com/casebook-dev/casebook/releases/download/", arts)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name string }
		Spec       struct {
			Version   string
			Platforms []struct {
				Selector struct{ MatchLabels map[string]string } `json:"selector"`
				URI      string                                  `json:"uri"`
				SHA256   string                                  `json:"sha256"`
				Bin      string
				Files    []struct{ From, To string }
			}
		}
	}
	if err := yaml.Unmarshal(m, &p); err != nil {
		t.Fatalf("%v\n%s", err, m)
	}
	if p.Metadata.Name != "casebook" || p.Spec.Version != "v1.2.3" || len(p.Spec.Platforms) != len(Targets) {
		t.Fatalf("manifest: name %q version %q, %d platforms\n%s", p.Metadata.Name, p.Spec.Version, len(p.Spec.Platforms), m)
	}
	for i, pl := range p.Spec.Platforms {
		tg := Targets[i]
		if pl.Selector.MatchLabels["os"] != tg.GOOS || pl.Selector.MatchLabels["arch"] != tg.GOARCH {
			t.Errorf("platform %d selects %v, want %s", i, pl.Selector.MatchLabels, tg)
		}
		name := "casebook_1.2.3_" + tg.GOOS + "_" + tg.GOARCH
		if pl.URI != "https://github.com/casebook-dev/casebook/releases/download/v1.2.3/"+name+".tar.gz" {
			t.Errorf("platform %d: uri %s", i, pl.URI)
		}
		sum := sha256.Sum256([]byte("archive for " + tg.String()))
		if pl.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("platform %d: sha256 %s is not the archive's", i, pl.SHA256)
		}
		if pl.Bin != "casebook" || len(pl.Files) == 0 || pl.Files[0].From != name+"/casebook" {
			t.Errorf("platform %d: bin %q files %+v", i, pl.Bin, pl.Files)
		}
	}
	path := filepath.Join(dir, "casebook.yaml")
	if err := os.WriteFile(path, m, 0o644); err != nil {
		t.Fatal(err)
	}
	krewValidate(t, path)

	// A manifest krew must refuse: the validator is not a no-op.
	bad := filepath.Join(t.TempDir(), "casebook.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(m), "sha256: ", "sha256: x", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if bin := os.Getenv("CASEBOOK_KREW_VALIDATE"); bin != "" {
		if out, err := exec.Command(bin, "-manifest", bad, "-skip-install").CombinedOutput(); err == nil {
			t.Errorf("validate-krew-manifest accepted a bad sha256:\n%s", out)
		}
	}
}
