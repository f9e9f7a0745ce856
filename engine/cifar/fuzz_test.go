package cifar

import (
	"bytes"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read. Whatever the input, Read must not
// panic; it must accept exactly the inputs that are a positive whole number
// of records with labels 0..9, agree between known and unknown size, and
// what it accepts must write back byte for byte. The seed corpus is in
// testdata/fuzz/FuzzRead (one valid record, one bad label, one truncated,
// empty).
func FuzzRead(f *testing.F) {
	f.Add(record(3, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Read(bytes.NewReader(data), "fuzz", int64(len(data)))
		s2, err2 := Read(bytes.NewReader(data), "fuzz", -1)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("known size: %v; unknown size: %v", err, err2)
		}
		valid := len(data) > 0 && len(data)%RecordBytes == 0
		for i := 0; valid && i < len(data); i += RecordBytes {
			valid = data[i] < NumClasses
		}
		if valid != (err == nil) {
			t.Fatalf("valid = %v but err = %v", valid, err)
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Fatal("Write(Read(data)) != data")
		}
		if !bytes.Equal(s.Images, s2.Images) || !bytes.Equal(s.Labels, s2.Labels) {
			t.Fatal("known and unknown size disagree")
		}
	})
}
