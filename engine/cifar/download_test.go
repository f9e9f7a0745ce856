package cifar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// member is one file of a test archive.
type member struct {
	name string
	data []byte
}

// syntheticArchive returns a tar.gz laid out like cifar-10-binary.tar.gz
// (a cifar-10-batches-bin/ directory, the six .bin files, batches.meta.txt
// and readme.html), with files from WriteSynthetic, plus the members for
// checking and the archive's MD5.
func syntheticArchive(t *testing.T, skip string) (archive []byte, files map[string][]byte, sum string) {
	t.Helper()
	src := t.TempDir()
	if err := WriteSynthetic(src, 4, 77); err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	members := []member{{ArchiveDir + "/batches.meta.txt", []byte(strings.Join(ClassNames[:], "\n") + "\n")}}
	for _, f := range AllFiles() {
		if f == skip {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
		members = append(members, member{ArchiveDir + "/" + f, b})
	}
	members = append(members, member{ArchiveDir + "/readme.html", []byte("<html></html>")})
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: ArchiveDir + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	s := md5.Sum(buf.Bytes())
	return buf.Bytes(), files, hex.EncodeToString(s[:])
}

// serve starts a server answering every request with body, counting hits.
func serve(t *testing.T, body []byte) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/cifar-10-binary.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// dirNames lists the entries of dir (hidden temporaries included).
func dirNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestDownloadExtractsTheSixFilesAfterCheckingMD5(t *testing.T) {
	archive, files, sum := syntheticArchive(t, "")
	srv, _ := serve(t, archive)
	dir := filepath.Join(t.TempDir(), "data")
	if err := DownloadMD5(context.Background(), srv.Client(), srv.URL+"/cifar-10-binary.tar.gz", sum, dir); err != nil {
		t.Fatal(err)
	}
	for f, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: extracted bytes differ (err %v)", f, err)
		}
	}
	if names := dirNames(t, dir); len(names) != 6 {
		t.Errorf("directory holds %v, want exactly the six .bin files", names)
	}
	if _, _, err := Load(dir); err != nil {
		t.Error(err)
	}
}

func TestDownloadWithWrongMD5WritesNothing(t *testing.T) {
	archive, _, sum := syntheticArchive(t, "")
	srv, _ := serve(t, archive)
	dir := t.TempDir()
	// The real archive's MD5 cannot match the synthetic one.
	err := Download(context.Background(), srv.Client(), srv.URL+"/cifar-10-binary.tar.gz", dir)
	if err == nil {
		t.Fatal("accepted an archive with the wrong MD5")
	}
	for _, w := range []string{"MD5 mismatch", "expected " + ArchiveMD5, "got " + sum, srv.URL, "in " + dir} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("a failed download left %v behind", names)
	}
}

func TestDownloadRejectsArchiveMissingAFile(t *testing.T) {
	archive, _, sum := syntheticArchive(t, "data_batch_3.bin")
	srv, _ := serve(t, archive)
	dir := t.TempDir()
	err := DownloadMD5(context.Background(), srv.Client(), srv.URL+"/cifar-10-binary.tar.gz", sum, dir)
	if err == nil || !strings.Contains(err.Error(), "archive lacks data_batch_3.bin") {
		t.Fatalf("error %v, want it to name data_batch_3.bin", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("a failed download left %v behind", names)
	}
}

func TestDownloadReportsHTTPErrorsAndGarbage(t *testing.T) {
	srv, _ := serve(t, []byte("this is not gzip"))
	dir := t.TempDir()
	err := DownloadMD5(context.Background(), srv.Client(), srv.URL+"/missing.tar.gz", "x", dir)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: error %v", err)
	}
	err = DownloadMD5(context.Background(), srv.Client(), srv.URL+"/cifar-10-binary.tar.gz", "x", dir)
	if err == nil || !strings.Contains(err.Error(), "not a gzip archive") {
		t.Errorf("garbage: error %v", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("failed downloads left %v behind", names)
	}
}

func TestEnsureDataOfflineSaysWhereToPutTheFiles(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/cifar-10-binary.tar.gz"
	srv.Close() // now the port refuses connections
	dir := t.TempDir()
	err := EnsureData(context.Background(), nil, url, dir)
	if err == nil {
		t.Fatal("no error without data or network")
	}
	for _, w := range []string{
		"no usable CIFAR-10 data in " + dir,
		"missing data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin",
		"connection refused", "offline",
		"put the six CIFAR-10 binary files", "in " + dir, ArchiveURL, ArchiveMD5,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("left %v behind", names)
	}
}

func TestEnsureDataDownloadsOnlyWhenNeeded(t *testing.T) {
	archive, _, sum := syntheticArchive(t, "")
	srv, hits := serve(t, archive)
	url := srv.URL + "/cifar-10-binary.tar.gz"
	dir := t.TempDir()
	if err := EnsureDataMD5(context.Background(), srv.Client(), url, sum, dir); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests for an empty directory, want 1", hits.Load())
	}
	if err := EnsureDataMD5(context.Background(), srv.Client(), url, sum, dir); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 {
		t.Errorf("downloaded again although the data were there (%d requests)", hits.Load())
	}
	// A truncated file makes the directory unusable: download repairs it.
	os.Truncate(filepath.Join(dir, "data_batch_5.bin"), 10)
	if err := EnsureDataMD5(context.Background(), srv.Client(), url, sum, dir); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 || CheckDir(dir) != nil {
		t.Errorf("truncated file not repaired (%d requests, CheckDir %v)", hits.Load(), CheckDir(dir))
	}
}

func TestDownloadHonoursContextCancellation(t *testing.T) {
	archive, _, sum := syntheticArchive(t, "")
	srv, _ := serve(t, archive)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	err := DownloadMD5(ctx, srv.Client(), srv.URL+"/cifar-10-binary.tar.gz", sum, dir)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error %v, want context canceled", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("left %v behind", names)
	}
}
