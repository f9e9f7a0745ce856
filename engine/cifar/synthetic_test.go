package cifar

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSyntheticIsDeterministicBalancedAndSeedDependent(t *testing.T) {
	a, b, c := Synthetic(100, 1), Synthetic(100, 1), Synthetic(100, 2)
	if !bytes.Equal(a.Images, b.Images) || !bytes.Equal(a.Labels, b.Labels) {
		t.Error("same seed, different data")
	}
	if bytes.Equal(a.Images, c.Images) {
		t.Error("different seeds, same images")
	}
	for k, n := range a.ClassCounts() {
		if n != 10 {
			t.Errorf("class %d has %d of 100 images, want 10", k, n)
		}
	}
	if len(a.Images) != 100*ImageBytes {
		t.Errorf("images length %d", len(a.Images))
	}
}

// TestSyntheticClassesAreLearnable checks that the data carry class signal a
// network can find after augmentation: a nearest-class-mean classifier on
// random crops, fitted on 500 images, labels 500 others almost perfectly.
func TestSyntheticClassesAreLearnable(t *testing.T) {
	train, test := Synthetic(500, 1), Synthetic(500, 2)
	var mean [NumClasses][]float64
	for k := range mean {
		mean[k] = make([]float64, InputSize)
	}
	x := make([]float32, InputSize)
	for i := 0; i < train.Len(); i++ {
		CenterCrop(x, train.Image(i))
		for j, v := range x {
			mean[train.Labels[i]][j] += float64(v) / 50
		}
	}
	correct := 0
	for i := 0; i < test.Len(); i++ {
		CropFlip(x, test.Image(i), i%9, (i/9)%9, i%2 == 0)
		best, bestD := -1, 0.0
		for k := range mean {
			d := 0.0
			for j, v := range x {
				e := float64(v) - mean[k][j]
				d += e * e
			}
			if best < 0 || d < bestD {
				best, bestD = k, d
			}
		}
		if best == int(test.Labels[i]) {
			correct++
		}
	}
	// Chance is 10%; the class colours alone separate the classes.
	if correct < 450 {
		t.Errorf("nearest-mean accuracy %d/500, want >= 450", correct)
	}
}

func TestWriteSyntheticWritesSixIndependentValidFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	if err := WriteSynthetic(dir, 3, 9); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range AllFiles() {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 3*RecordBytes {
			t.Errorf("%s is %d bytes, want %d", f, len(raw), 3*RecordBytes)
		}
		if seen[string(raw)] {
			t.Errorf("%s repeats another file", f)
		}
		seen[string(raw)] = true
		if _, err := ReadFile(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 6 {
		t.Errorf("directory holds %d entries, want the 6 files", len(entries))
	}
	dir2 := t.TempDir()
	WriteSynthetic(dir2, 3, 9)
	for _, f := range AllFiles() {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same seed", f)
		}
	}
}
