// Package snapshottest holds helpers for tests that feed snapshots to
// casebook: hostile archives built on the fly.
package snapshottest

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"strings"
	"testing"
)

// WriteBomb writes a .tar.gz whose one entry, bomb.yaml, is size bytes of
// YAML comment lines: a few KiB compressed per MiB unpacked.
func WriteBomb(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "bomb.yaml", Mode: 0o600, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	line := []byte("#" + strings.Repeat(" ", 1022) + "\n")
	for w := int64(0); w < size; w += int64(len(line)) {
		if _, err := tw.Write(line[:min(int64(len(line)), size-w)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}
