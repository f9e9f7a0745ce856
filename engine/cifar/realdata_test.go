package cifar

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// realDir returns $FABEAM_CIFAR10 (a directory holding the six real .bin
// files) or skips the test.
func realDir(t *testing.T) string {
	dir := os.Getenv("FABEAM_CIFAR10")
	if dir == "" {
		t.Skip("set FABEAM_CIFAR10 to a directory holding the six CIFAR-10 .bin files to run this test")
	}
	return dir
}

// TestRealFilesHaveTheDocumentedCountsAndLabels checks each real file against
// the per-class counts and first ten labels of the official files (which
// match the Kaggle trainLabels.csv and the cleanlab test labels).
func TestRealFilesHaveTheDocumentedCountsAndLabels(t *testing.T) {
	dir := realDir(t)
	tests := []struct {
		file   string
		counts [NumClasses]int
		first  []uint8
	}{
		{"data_batch_1.bin", [10]int{1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981}, []uint8{6, 9, 9, 4, 1, 1, 2, 7, 8, 3}},
		{"data_batch_2.bin", [10]int{984, 1007, 1010, 995, 1010, 988, 1008, 1026, 987, 985}, []uint8{1, 6, 6, 8, 8, 3, 4, 6, 0, 6}},
		{"data_batch_3.bin", [10]int{994, 1042, 965, 997, 990, 1029, 978, 1015, 961, 1029}, []uint8{8, 5, 0, 6, 9, 2, 8, 3, 6, 2}},
		{"data_batch_4.bin", [10]int{1003, 963, 1041, 976, 1004, 1021, 1004, 981, 1024, 983}, []uint8{0, 6, 0, 2, 7, 2, 1, 2, 4, 1}},
		{"data_batch_5.bin", [10]int{1014, 1014, 952, 1016, 997, 1025, 980, 977, 1003, 1022}, []uint8{1, 8, 5, 1, 5, 7, 4, 3, 8, 2}},
		{"test_batch.bin", [10]int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, []uint8{3, 8, 8, 0, 6, 6, 1, 6, 3, 1}},
	}
	for _, tt := range tests {
		s, err := ReadFile(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != RecordsPerFile {
			t.Errorf("%s: %d records", tt.file, s.Len())
		}
		if got := s.ClassCounts(); got != tt.counts {
			t.Errorf("%s: class counts %v, want %v", tt.file, got, tt.counts)
		}
		if !slices.Equal(s.Labels[:10], tt.first) {
			t.Errorf("%s: first labels %v, want %v", tt.file, s.Labels[:10], tt.first)
		}
	}
}

// TestRealPaperSplitClassCounts checks the paper's split on the real labels.
// Reference from numpy (/usr/bin/python3, python3-numpy 1.24.2): labels =
// the label bytes of data_batch_1..5 concatenated; np.random.seed(42);
// p = np.random.permutation(50000); np.bincount(labels[p[45000:]]) and
// labels[p[:10]], labels[p[45000:45010]].
func TestRealPaperSplitClassCounts(t *testing.T) {
	dir := realDir(t)
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 50000 || test.Len() != TestSize {
		t.Fatalf("sizes %d/%d", train.Len(), test.Len())
	}
	for k, n := range train.ClassCounts() {
		if n != 5000 {
			t.Errorf("class %d: %d training images, want 5000", k, n)
		}
	}
	tr, val := PaperSplit(train)
	if tr.Len() != TrainSize || val.Len() != ValSize {
		t.Fatalf("split sizes %d/%d", tr.Len(), val.Len())
	}
	if got, want := val.ClassCounts(), [10]int{510, 487, 502, 474, 524, 503, 505, 534, 499, 462}; got != want {
		t.Errorf("validation class counts %v, want %v", got, want)
	}
	if got, want := tr.Labels[:10], []uint8{7, 8, 0, 6, 1, 6, 8, 0, 6, 5}; !slices.Equal(got, want) {
		t.Errorf("first train labels %v, want %v", got, want)
	}
	if got, want := val.Labels[:10], []uint8{3, 8, 5, 5, 9, 7, 3, 9, 0, 6}; !slices.Equal(got, want) {
		t.Errorf("first validation labels %v, want %v", got, want)
	}
	if err := CheckDir(dir); err != nil {
		t.Error(err)
	}
}
