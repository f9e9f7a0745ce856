package cifar

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// record builds one binary record by hand: label, then pixel value
// (fill + c*R + y*Y + x) mod 256 at (c,y,x), so positions are distinguishable.
func record(label, fill byte) []byte {
	r := make([]byte, RecordBytes)
	r[0] = label
	for c := 0; c < 3; c++ {
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				r[1+c*1024+y*32+x] = fill + byte(c*101+y*7+x)
			}
		}
	}
	return r
}

func TestReadSplitsRecordsIntoLabelsAndPlanes(t *testing.T) {
	raw := slices.Concat(record(6, 0), record(9, 50), record(0, 200))
	for _, size := range []int64{int64(len(raw)), -1} {
		s, err := Read(bytes.NewReader(raw), "hand.bin", size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !slices.Equal(s.Labels, []uint8{6, 9, 0}) {
			t.Errorf("labels %v, want [6 9 0]", s.Labels)
		}
		for i, fill := range []byte{0, 50, 200} {
			img := s.Image(i)
			for c := 0; c < 3; c++ {
				for y := 0; y < 32; y++ {
					for x := 0; x < 32; x++ {
						if got, want := img[c*1024+y*32+x], fill+byte(c*101+y*7+x); got != want {
							t.Fatalf("size %d: image %d (c=%d,y=%d,x=%d) = %d, want %d", size, i, c, y, x, got, want)
						}
					}
				}
			}
		}
	}
}

func TestWriteThenReadGivesBackTheSameBytes(t *testing.T) {
	raw := slices.Concat(record(3, 1), record(8, 2))
	s, err := Read(bytes.NewReader(raw), "x", -1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Fatal("Write(Read(raw)) != raw")
	}
}

func TestReadRejectsBadInputNamingFileAndProblem(t *testing.T) {
	bad := record(10, 0)
	tests := []struct {
		name  string
		raw   []byte
		size  int64 // -2 means len(raw)
		wants []string
	}{
		{"empty", nil, -2, []string{"f.bin", "empty"}},
		{"empty unknown size", nil, -1, []string{"f.bin", "empty"}},
		// 2*3073-1 = 6145 bytes: 1 whole record and 3072 bytes over.
		{"truncated", slices.Concat(record(1, 0), record(2, 0))[:6145], -2,
			[]string{"f.bin", "size 6145 bytes", "not a multiple of the 3073-byte record", "1 whole records and 3072 bytes left over", "30730000"}},
		{"truncated unknown size", record(1, 0)[:100], -1, []string{"f.bin", "size 100 bytes", "0 whole records and 100 bytes left over"}},
		{"label 10 in record 1", slices.Concat(record(1, 0), bad), -2, []string{"f.bin", "record 1", "byte offset 3073", "label 10", "0..9"}},
		{"label 255 in record 0", append([]byte{255}, record(0, 0)[1:]...), -1, []string{"f.bin", "record 0", "label 255"}},
		{"reader shorter than size", record(1, 0), 2 * RecordBytes, []string{"f.bin", "read 3073 of the 6146 bytes"}},
		{"reader longer than size", slices.Concat(record(1, 0), record(1, 0)), RecordBytes, []string{"f.bin", "more than the 3073 bytes"}},
		{"absurd size", nil, 1 << 50, []string{"f.bin", "larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size == -2 {
				size = int64(len(tt.raw))
			}
			s, err := Read(bytes.NewReader(tt.raw), "f.bin", size)
			if err == nil {
				t.Fatalf("accepted, %d records", s.Len())
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestReadFileOfMissingFileSaysWhereToPutIt(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(filepath.Join(dir, "data_batch_3.bin"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{filepath.Join(dir, "data_batch_3.bin"), "does not exist", ArchiveURL, "in " + dir} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestCheckDirListsMissingAndTruncatedFiles(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSynthetic(dir, 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(dir); err != nil {
		t.Fatalf("complete directory rejected: %v", err)
	}
	os.Remove(filepath.Join(dir, "data_batch_2.bin"))
	os.Remove(filepath.Join(dir, TestFile))
	if err := os.Truncate(filepath.Join(dir, "data_batch_4.bin"), 3000); err != nil {
		t.Fatal(err)
	}
	err := CheckDir(dir)
	if err == nil {
		t.Fatal("broken directory accepted")
	}
	for _, w := range []string{"missing data_batch_2.bin, test_batch.bin", "data_batch_4.bin: size 3000 bytes", "put the six CIFAR-10 binary files", ArchiveURL, ArchiveMD5} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "data_batch_1.bin:") {
		t.Errorf("error blames a good file: %q", err)
	}
	if _, _, lerr := Load(dir); lerr == nil || lerr.Error() != err.Error() {
		t.Errorf("Load error %v, want the CheckDir error", lerr)
	}
}

func TestLoadConcatenatesTrainFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	const per = 7
	if err := WriteSynthetic(dir, per, 5); err != nil {
		t.Fatal(err)
	}
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 5*per || test.Len() != per {
		t.Fatalf("sizes %d/%d, want %d/%d", train.Len(), test.Len(), 5*per, per)
	}
	for k, f := range TrainFiles {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < per; j++ {
			i := k*per + j
			rec := raw[j*RecordBytes : (j+1)*RecordBytes]
			if train.Labels[i] != rec[0] || !bytes.Equal(train.Image(i), rec[1:]) {
				t.Fatalf("train record %d is not record %d of %s", i, j, f)
			}
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, TestFile))
	var buf bytes.Buffer
	Write(&buf, test)
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Error("test set differs from test_batch.bin")
	}
}

func TestSubsetCopiesRecordsInGivenOrder(t *testing.T) {
	s := Synthetic(5, 2)
	sub := s.Subset([]int{4, 0, 4})
	if sub.Len() != 3 {
		t.Fatalf("len %d", sub.Len())
	}
	for k, i := range []int{4, 0, 4} {
		if sub.Labels[k] != s.Labels[i] || !bytes.Equal(sub.Image(k), s.Image(i)) {
			t.Errorf("subset record %d != record %d", k, i)
		}
	}
	sub.Images[0] ^= 0xff
	if sub.Images[0] == s.Images[4*ImageBytes] {
		t.Error("Subset shares memory with its source")
	}
}

func TestImageAndSubsetPanicOutOfRange(t *testing.T) {
	s := Synthetic(2, 1)
	for name, f := range map[string]func(){
		"Image(2)":      func() { s.Image(2) },
		"Image(-1)":     func() { s.Image(-1) },
		"Subset([0 2])": func() { s.Subset([]int{0, 2}) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "cifar: ") {
					t.Errorf("%s: recovered %v, want a cifar: panic", name, r)
				}
			}()
			f()
		}()
	}
}

func TestWriteFileLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.bin")
	if err := WriteFile(p, Synthetic(3, 1)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "a.bin" {
		t.Errorf("directory holds %v, want only a.bin", entries)
	}
	err := WriteFile(filepath.Join(dir, "no", "such", "dir.bin"), Synthetic(1, 1))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("writing into a missing directory: %v", err)
	}
}

// errReader fails after n bytes.
type errReader struct{ n int }

func (e *errReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), e.n)
	e.n -= k
	return k, nil
}

func TestReadReportsReaderErrors(t *testing.T) {
	if _, err := Read(&errReader{10}, "pipe.bin", -1); err == nil || !strings.Contains(err.Error(), "pipe.bin") {
		t.Errorf("error %v does not name pipe.bin", err)
	}
}
