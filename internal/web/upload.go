package web

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// uploadError is an upload the server refuses: the reader gets its
// message and the status.
type uploadError struct {
	Status int
	Msg    string
	// err is the read error behind Msg, if any.
	err error
}

func (e *uploadError) Error() string { return e.Msg }

func (e *uploadError) Unwrap() error { return e.err }

func badUpload(status int, format string, args ...any) error {
	return &uploadError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// extractLimits bound what one upload may write to disk.
type extractLimits struct {
	MaxBytes int64
	MaxFiles int
}

// extractTarGz unpacks a snapshot .tar.gz into dir, which must exist and
// be empty. It writes only regular files and directories at local paths
// (no absolute paths, no "..", no links or devices), and stops with an
// uploadError when the archive expands beyond the limits, so a small
// archive cannot fill the disk.
func extractTarGz(r io.Reader, dir string, lim extractLimits) (files int, err error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		return 0, badUpload(400, "not a gzip file: upload the .tar.gz written by 'casebook collect -o bundle.tar.gz'")
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return 0, badUpload(400, "not a valid gzip file: %v", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var total int64
	entries := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, badArchive(err, files)
		}
		name := strings.TrimPrefix(filepath.ToSlash(h.Name), "./")
		if name == "" || name == "." {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(name)) {
			return files, badUpload(400, "unsafe path %q in the archive", h.Name)
		}
		// Every entry counts, kept or not: skipping an entry still means
		// decompressing its data.
		if entries++; entries > 2*lim.MaxFiles {
			return files, badUpload(413, "the archive holds more than %d entries", 2*lim.MaxFiles)
		}
		if h.Size > lim.MaxBytes-total {
			return files, badUpload(413, "the archive expands to more than %s", byteSize(lim.MaxBytes))
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return files, fmt.Errorf("extract %q: %w", name, err)
			}
		case tar.TypeReg:
			files++
			if files > lim.MaxFiles {
				return files, badUpload(413, "the archive holds more than %d files", lim.MaxFiles)
			}
			n, err := writeFile(target, tr, lim.MaxBytes-total)
			total += n
			if err != nil {
				return files, err
			}
		default:
			// Links, devices and FIFOs have no place in a snapshot and
			// could point outside dir; they are skipped.
			total += max(h.Size, 0)
		}
	}
	if files == 0 {
		return 0, badUpload(400, "the archive holds no files")
	}
	return files, nil
}

// writeFile copies at most budget bytes of r to path.
func writeFile(path string, r io.Reader, budget int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, fmt.Errorf("extract %q: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return 0, badUpload(400, "the archive holds %q twice", filepath.Base(path))
		}
		return 0, fmt.Errorf("extract %q: %w", path, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, budget+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, badArchive(err, 0)
	}
	if n > budget {
		return n, badUpload(413, "the archive expands beyond the size limit")
	}
	return n, nil
}

// badArchive explains a read error inside the archive: the body limit, a
// truncated or corrupt file.
func badArchive(err error, files int) error {
	var ue *uploadError
	if errors.As(err, &ue) {
		return err
	}
	if tooBig := maxBytesError(err); tooBig != nil {
		return badUpload(413, "upload too large (at most %s)", byteSize(tooBig.Limit))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &uploadError{Status: 400, Msg: fmt.Sprintf("the archive is truncated (after %d files)", files), err: err}
	}
	return &uploadError{Status: 400, Msg: fmt.Sprintf("not a valid .tar.gz: %v", err), err: err}
}
