package cifar

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ArchiveURL is the canonical CIFAR-10 binary archive.
const ArchiveURL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"

// ArchiveMD5 is the MD5 of the archive at ArchiveURL, as published on the
// CIFAR-10 page.
const ArchiveMD5 = "c32a1d4ab5d03f1284b67883e8d87530"

// ArchiveDir is the folder inside the archive that holds the .bin files.
const ArchiveDir = "cifar-10-batches-bin"

// Download fetches the canonical archive from url (ArchiveURL when empty),
// verifies that its MD5 is ArchiveMD5, and extracts the six .bin files into
// dir. See DownloadMD5.
func Download(ctx context.Context, client *http.Client, url, dir string) error {
	return DownloadMD5(ctx, client, url, ArchiveMD5, dir)
}

// DownloadMD5 is Download with the expected MD5 (lower-case hex) given; tests
// use it to serve their own archive.
//
// The archive is streamed: its bytes are hashed while the tar.gz is decoded,
// and each of the six files (cifar-10-batches-bin/<name>, other members
// ignored) is written to a temporary name in dir. Only when the whole body
// has been read, the MD5 matches, all six files were found and each has a
// valid size are they renamed into place; on any failure the temporary files
// are removed and dir is left as it was. A nil client means
// http.DefaultClient.
func DownloadMD5(ctx context.Context, client *http.Client, url, wantMD5, dir string) error {
	if url == "" {
		url = ArchiveURL
	}
	if client == nil {
		client = http.DefaultClient
	}
	if err := download(ctx, client, url, wantMD5, dir); err != nil {
		return fmt.Errorf("cifar: downloading %s: %v; %s", url, err, howToGetData(dir))
	}
	return nil
}

// download does DownloadMD5's work; its errors carry no instructions.
func download(ctx context.Context, client *http.Client, url, wantMD5, dir string) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w (offline?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s", resp.Status)
	}

	temps := map[string]string{} // file name -> temporary path
	defer func() {
		if err != nil {
			for _, t := range temps {
				os.Remove(t)
			}
		}
	}()
	h := md5.New()
	body := io.TeeReader(resp.Body, h)
	if err := extract(body, dir, temps); err != nil {
		return err
	}
	// Hash whatever follows the tar stream (gzip trailer, padding).
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("reading the response: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantMD5 {
		return fmt.Errorf("MD5 mismatch: expected %s, got %s (corrupt or incomplete download; nothing was written)", wantMD5, got)
	}
	var missing []string
	for _, f := range AllFiles() {
		if _, ok := temps[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("archive lacks %s (looked for %s/<name>)", strings.Join(missing, ", "), ArchiveDir)
	}
	for _, f := range AllFiles() {
		if err := os.Rename(temps[f], filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("installing %s: %w", filepath.Join(dir, f), err)
		}
		delete(temps, f)
	}
	return nil
}

// extract decodes a tar.gz stream, writing each wanted member to a temporary
// file in dir and recording it in temps.
func extract(r io.Reader, dir string, temps map[string]string) error {
	want := map[string]bool{}
	for _, f := range AllFiles() {
		want[f] = true
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %v", err)
	}
	gz.Multistream(false)
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the tar archive: %v", err)
		}
		name := path.Clean(hdr.Name)
		base := path.Base(name)
		if hdr.Typeflag != tar.TypeReg || path.Dir(name) != ArchiveDir || !want[base] {
			continue
		}
		if _, dup := temps[base]; dup {
			return fmt.Errorf("archive holds %s twice", name)
		}
		if err := checkSize(name, hdr.Size); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), "cifar: "))
		}
		f, err := os.CreateTemp(dir, "."+base+".download-*")
		if err != nil {
			return err
		}
		temps[base] = f.Name()
		_, err = io.Copy(f, tr)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extracting %s: %v", name, err)
		}
	}
	// Drain the gzip stream so its CRC and length are checked.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return fmt.Errorf("reading the gzip stream: %v", err)
	}
	return nil
}

// EnsureData makes sure dir holds the six CIFAR-10 files: if CheckDir(dir)
// passes it does nothing; otherwise it downloads the archive from url
// (ArchiveURL when empty) with Download. If that fails too (offline, bad
// checksum), the error gives both reasons and says exactly where to put the
// six files and which URL to fetch by hand.
func EnsureData(ctx context.Context, client *http.Client, url, dir string) error {
	return EnsureDataMD5(ctx, client, url, ArchiveMD5, dir)
}

// EnsureDataMD5 is EnsureData with the expected archive MD5 given.
func EnsureDataMD5(ctx context.Context, client *http.Client, url, wantMD5, dir string) error {
	problems := dirProblems(dir)
	if len(problems) == 0 {
		return nil
	}
	if url == "" {
		url = ArchiveURL
	}
	if client == nil {
		client = http.DefaultClient
	}
	if err := download(ctx, client, url, wantMD5, dir); err != nil {
		return fmt.Errorf("cifar: no usable CIFAR-10 data in %s (%s) and downloading %s failed: %v; to fix it, %s",
			dir, strings.Join(problems, "; "), url, err, howToGetData(dir))
	}
	return CheckDir(dir)
}
