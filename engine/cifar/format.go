package cifar

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Geometry and sizes of CIFAR-10 and of the paper's split.
const (
	// Height, Width and Channels are the shape of one stored image.
	Height, Width, Channels = 32, 32, 3
	// ImageBytes is the number of pixel bytes of one image (3 planes of 32×32).
	ImageBytes = Channels * Height * Width
	// RecordBytes is the size of one binary record: 1 label byte, then the pixels.
	RecordBytes = 1 + ImageBytes
	// CropSize is the side of the square window fed to the network.
	CropSize = 24
	// NumClasses is the number of labels; a label byte is 0..NumClasses-1.
	NumClasses = 10
	// TrainSize is the number of training images after the paper's split.
	TrainSize = 45000
	// ValSize is the number of validation images after the paper's split.
	ValSize = 5000
	// TestSize is the number of test images (test_batch.bin).
	TestSize = 10000
	// RecordsPerFile is the number of records in each canonical .bin file.
	RecordsPerFile = 10000
	// CanonicalFileBytes is the size of each canonical .bin file.
	CanonicalFileBytes = RecordsPerFile * RecordBytes
)

// ClassNames are the CIFAR-10 class names, indexed by label.
var ClassNames = [NumClasses]string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// Mean is the paper's per-channel (R, G, B) mean of the [0,1]-scaled pixels.
var Mean = [Channels]float32{0.4914, 0.4822, 0.4465}

// Std is the paper's per-channel (R, G, B) standard deviation of the [0,1]-scaled pixels.
var Std = [Channels]float32{0.2470, 0.2435, 0.2616}

// TrainFiles are the five training batch files, in the order their records are concatenated.
var TrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}

// TestFile is the test batch file.
const TestFile = "test_batch.bin"

// TestFileMD5 is the MD5 of TestFile as the official archive (ArchiveMD5)
// holds it. A test batch with another MD5 passes Load's format checks but
// does not hold the official test images.
const TestFileMD5 = "803d5f7f4d78ea53de84dbe85f74fb6d"

// AllFiles returns the six files a data directory must hold: TrainFiles then TestFile.
func AllFiles() []string {
	return append(append([]string(nil), TrainFiles...), TestFile)
}

// maxReadBytes bounds what Read will allocate for one file (about 3.2 GB, 2^20
// records): far above any real batch, low enough that a bogus size cannot
// exhaust memory.
const maxReadBytes = (1 << 20) * RecordBytes

// Set is a set of 32×32 RGB images with their labels. Image i occupies
// Images[i*ImageBytes:(i+1)*ImageBytes] in the binary format's layout: three
// planes R, G, B, each 32 rows of 32 bytes, i.e. (c,h,w) row-major.
type Set struct {
	Images []uint8 // (n,c,h,w) = (n,3,32,32)
	Labels []uint8 // (n), each 0..9
}

// Len returns the number of images in s.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns the pixels of image i, (3,32,32), as a view into s.Images (not a copy).
// It panics if i is out of range.
func (s *Set) Image(i int) []uint8 {
	if i < 0 || i >= s.Len() {
		panic(fmt.Sprintf("cifar: Image(%d) out of range [0,%d)", i, s.Len()))
	}
	return s.Images[i*ImageBytes : (i+1)*ImageBytes : (i+1)*ImageBytes]
}

// Subset returns a new Set holding copies of the records idx, in that order.
// Indices may repeat. It panics if an index is out of range.
func (s *Set) Subset(idx []int) *Set {
	out := &Set{Images: make([]uint8, len(idx)*ImageBytes), Labels: make([]uint8, len(idx))}
	for k, i := range idx {
		copy(out.Images[k*ImageBytes:], s.Image(i))
		out.Labels[k] = s.Labels[i]
	}
	return out
}

// Concat returns a new Set holding the records of sets, one after another.
func Concat(sets ...*Set) *Set {
	n := 0
	for _, s := range sets {
		n += s.Len()
	}
	out := &Set{Images: make([]uint8, 0, n*ImageBytes), Labels: make([]uint8, 0, n)}
	for _, s := range sets {
		out.Images = append(out.Images, s.Images...)
		out.Labels = append(out.Labels, s.Labels...)
	}
	return out
}

// ClassCounts returns how many images of each label s holds.
func (s *Set) ClassCounts() [NumClasses]int {
	var c [NumClasses]int
	for _, l := range s.Labels {
		c[l]++
	}
	return c
}

// validate checks that s is internally consistent; a programmer error panics.
func (s *Set) validate(op string) {
	if len(s.Images) != len(s.Labels)*ImageBytes {
		panic(fmt.Sprintf("cifar: %s: Set has %d labels but %d image bytes (want %d)", op, len(s.Labels), len(s.Images), len(s.Labels)*ImageBytes))
	}
	for i, l := range s.Labels {
		if l >= NumClasses {
			panic(fmt.Sprintf("cifar: %s: label %d of record %d is not in 0..9", op, l, i))
		}
	}
}

// ReadFile reads and validates one CIFAR-10 binary file (see Read).
func ReadFile(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cifar: %s does not exist: %s", path, howToGetData(filepath.Dir(path)))
		}
		return nil, fmt.Errorf("cifar: opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cifar: %s: %w", path, err)
	}
	return Read(f, path, st.Size())
}

// Read reads CIFAR-10 binary records from r and validates them. name is used
// only in error messages (pass the file name). size is the number of bytes r
// holds, checked before anything is read; pass a negative size when it is
// unknown and Read will read to EOF and check afterwards.
//
// The input is valid when it holds at least one record, its length is a
// multiple of RecordBytes (3,073) and every label byte is 0..9. Errors name
// the input and, for a bad label, the record index and byte offset.
func Read(r io.Reader, name string, size int64) (*Set, error) {
	var buf []byte
	if size >= 0 {
		if err := checkSize(name, size); err != nil {
			return nil, err
		}
		buf = make([]byte, size)
		if n, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("cifar: %s: read %d of the %d bytes expected: %v; the file is truncated or still being written; re-download it", name, n, size, err)
		}
		var one [1]byte
		if n, _ := r.Read(one[:]); n > 0 {
			return nil, fmt.Errorf("cifar: %s: holds more than the %d bytes its size says; it changed while being read", name, size)
		}
	} else {
		var err error
		buf, err = io.ReadAll(io.LimitReader(r, maxReadBytes+1))
		if err != nil {
			return nil, fmt.Errorf("cifar: reading %s: %w", name, err)
		}
		if err := checkSize(name, int64(len(buf))); err != nil {
			return nil, err
		}
	}
	return decode(name, buf)
}

// checkSize reports whether size can be the size of a CIFAR-10 binary file.
func checkSize(name string, size int64) error {
	switch {
	case size == 0:
		return fmt.Errorf("cifar: %s is empty (0 bytes); a CIFAR-10 binary file holds records of %d bytes (%d for the canonical 10,000); re-download it", name, RecordBytes, CanonicalFileBytes)
	case size > maxReadBytes:
		return fmt.Errorf("cifar: %s: size %d bytes is larger than the %d this reader accepts (canonical files are %d bytes); this is not a CIFAR-10 binary batch", name, size, int64(maxReadBytes), CanonicalFileBytes)
	case size%RecordBytes != 0:
		return fmt.Errorf("cifar: %s: size %d bytes is not a multiple of the %d-byte record (1 label byte + %d pixel bytes): %d whole records and %d bytes left over (the canonical file is %d bytes); the file is truncated or is not the CIFAR-10 binary version (the CIFAR-100 binary has 2 label bytes); re-download it",
			name, size, RecordBytes, ImageBytes, size/RecordBytes, size%RecordBytes, CanonicalFileBytes)
	}
	return nil
}

// decode splits buf (a whole number of records) into a Set, checking labels.
func decode(name string, buf []byte) (*Set, error) {
	n := len(buf) / RecordBytes
	s := &Set{Images: make([]uint8, n*ImageBytes), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		rec := buf[i*RecordBytes : (i+1)*RecordBytes]
		if rec[0] >= NumClasses {
			return nil, fmt.Errorf("cifar: %s: record %d (byte offset %d) has label %d; labels must be 0..9; the file is corrupt or not CIFAR-10 binary; re-download it", name, i, i*RecordBytes, rec[0])
		}
		s.Labels[i] = rec[0]
		copy(s.Images[i*ImageBytes:], rec[1:])
	}
	return s, nil
}

// Write writes s to w in the CIFAR-10 binary format. It panics if s is
// inconsistent (labels out of range, wrong image length).
func Write(w io.Writer, s *Set) error {
	s.validate("Write")
	bw := bufio.NewWriterSize(w, 1<<16)
	for i := 0; i < s.Len(); i++ {
		if err := bw.WriteByte(s.Labels[i]); err != nil {
			return err
		}
		if _, err := bw.Write(s.Image(i)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFile writes s to path in the CIFAR-10 binary format, atomically: it
// writes a temporary file in the same directory and renames it into place, so
// path is either absent, its old self, or complete.
func WriteFile(path string, s *Set) error {
	return atomicWrite(path, func(w io.Writer) error { return Write(w, s) })
}

// atomicWrite writes through fill to a temporary file beside path, syncs it
// and renames it to path; on any error the temporary file is removed.
func atomicWrite(path string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cifar: creating %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("cifar: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("cifar: writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("cifar: writing %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cifar: writing %s: %w", path, err)
	}
	return nil
}

// Load reads and validates the six files of dir and returns the training set
// (data_batch_1 … data_batch_5 concatenated in order: 50,000 images for the
// real data) and the test set (test_batch.bin: 10,000). It first runs
// CheckDir, so a missing file is reported with instructions before anything
// large is read. Files of any positive whole number of records are accepted,
// so synthetic directories (WriteSynthetic) load too.
func Load(dir string) (train, test *Set, err error) {
	if err := CheckDir(dir); err != nil {
		return nil, nil, err
	}
	// Size the training set from the file sizes (CheckDir just checked them)
	// so the files are appended without reallocation: peak memory is the
	// training set plus one file.
	n := 0
	for _, f := range TrainFiles {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil {
			n += int(st.Size() / RecordBytes)
		}
	}
	train = &Set{Images: make([]uint8, 0, n*ImageBytes), Labels: make([]uint8, 0, n)}
	for _, f := range TrainFiles {
		s, err := ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, nil, err
		}
		train.Images = append(train.Images, s.Images...)
		train.Labels = append(train.Labels, s.Labels...)
	}
	if test, err = ReadFile(filepath.Join(dir, TestFile)); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// CheckDir reports whether dir holds all six CIFAR-10 binary files with valid
// sizes (a positive multiple of 3,073 bytes). It does not read the files, so
// it is cheap. The error lists every problem found and says where to put the
// files and how to download them.
func CheckDir(dir string) error {
	problems := dirProblems(dir)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("cifar: data directory %s is not usable: %s; %s", dir, strings.Join(problems, "; "), howToGetData(dir))
}

// dirProblems lists what is wrong with dir as a CIFAR-10 data directory.
func dirProblems(dir string) []string {
	var missing, bad []string
	for _, f := range AllFiles() {
		p := filepath.Join(dir, f)
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, f)
		case err != nil:
			bad = append(bad, err.Error())
		case !st.Mode().IsRegular():
			bad = append(bad, fmt.Sprintf("%s is not a regular file", p))
		default:
			if err := checkSize(p, st.Size()); err != nil {
				bad = append(bad, strings.TrimPrefix(err.Error(), "cifar: "))
			}
		}
	}
	if len(missing) > 0 {
		bad = append([]string{"missing " + strings.Join(missing, ", ")}, bad...)
	}
	return bad
}

// howToGetData is the instruction appended to every "data not there" error.
func howToGetData(dir string) string {
	return fmt.Sprintf("put the six CIFAR-10 binary files (%s) in %s: download %s (MD5 %s), extract it (tar xzf cifar-10-binary.tar.gz) and copy cifar-10-batches-bin/*.bin into %s",
		strings.Join(AllFiles(), ", "), dir, ArchiveURL, ArchiveMD5, dir)
}
