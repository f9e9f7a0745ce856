package format

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// file assembles a safetensors file from a header string and data bytes,
// the way a hand-crafted (possibly malformed) file would be built.
func file(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// TestWriteSafetensorsHandWorkedBytes pins the exact bytes of a small file.
// Expected header worked out by hand from the spec: keys sorted
// (__metadata__ sorts before lower-case names since '_' < 'a'), compact
// JSON, padded with spaces to a multiple of 8; data in the given order.
func TestWriteSafetensorsHandWorkedBytes(t *testing.T) {
	tensors := []Tensor{
		F32Tensor("w", []int{2}, []float32{1, -2}), // 1.0 = 0x3f800000, -2.0 = 0xc0000000
		I64Tensor("b", []int{1, 1}, []int64{-1}),   // -1 = 0xff..ff
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	json := `{"__metadata__":{"format":"pt"},` +
		`"b":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]},` +
		`"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	// len(json) = 32 + 56 + 53 = 141 (the three lines above); padded to 144.
	if len(json) != 141 {
		t.Fatalf("hand-worked header is %d bytes, the comment says 141", len(json))
	}
	want := file(json+"   ", []byte{
		0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	})
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("bytes differ:\n got %q\nwant %q", buf.Bytes(), want)
	}
}

func TestSafetensorsRoundTripsEveryDType(t *testing.T) {
	f32 := []float32{0, -0.5, float32(math.Inf(1)), math.MaxFloat32, math.SmallestNonzeroFloat32, 3.25}
	f64 := []float64{math.Pi, -1e300}
	i64 := []int64{math.MinInt64, 0, math.MaxInt64}
	i32 := []int32{math.MinInt32, 7}
	u8 := []byte{0, 255, 128}
	tensors := []Tensor{
		F32Tensor("conv1.weight", []int{2, 3}, f32),
		F64Tensor("scalar", []int{}, f64[:1]),
		F64Tensor("f64", []int{2}, f64),
		I64Tensor("labels", []int{3}, i64),
		I32Tensor("i32", []int{2, 1}, i32),
		U8Tensor("img", []int{1, 3}, u8),
		F32Tensor("empty", []int{0, 5}, nil),
	}
	meta := map[string]string{"rule": "bp", "seed": "0"}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	if hl := binary.LittleEndian.Uint64(buf.Bytes()); hl%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hl)
	}
	f, err := ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Meta) != 2 || f.Meta["rule"] != "bp" || f.Meta["seed"] != "0" {
		t.Errorf("Meta = %v, want %v", f.Meta, meta)
	}
	// File.Tensors is sorted by offset, which is the write order here
	// (ties at equal offsets, from empty tensors, broken by end).
	var at int64
	for i, ti := range f.Tensors {
		if ti.Begin != at {
			t.Errorf("Tensors[%d] %q begins at %d, want %d", i, ti.Name, ti.Begin, at)
		}
		at = ti.End
	}
	for _, want := range tensors {
		got, err := f.Read(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q read back as %s%v %x, want %s%v %x", want.Name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
	}
	check := func(name string, got, want any, err error) {
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s decode = %v, %v; want %v", name, got, err, want)
		}
	}
	ff, _ := f.Read("conv1.weight")
	v32, err := ff.Float32s()
	for i := range f32 {
		if err == nil && math.Float32bits(v32[i]) != math.Float32bits(f32[i]) {
			t.Errorf("Float32s[%d] = %v, want %v", i, v32[i], f32[i])
		}
	}
	check("Float32s", len(v32), len(f32), err)
	t64, _ := f.Read("f64")
	v64, err := t64.Float64s()
	check("Float64s", v64, f64, err)
	tl, _ := f.Read("labels")
	vl, err := tl.Int64s()
	check("Int64s", vl, i64, err)
	ti, _ := f.Read("i32")
	vi, err := ti.Int32s()
	check("Int32s", vi, i32, err)
	if _, err := tl.Float32s(); err == nil || !strings.Contains(err.Error(), "is I64, not F32") {
		t.Errorf("Float32s of an I64 tensor: %v", err)
	}
	if _, err := f.Read("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Read of a missing tensor: %v", err)
	}
}

func TestWriteSafetensorsIsDeterministic(t *testing.T) {
	meta := map[string]string{"z": "1", "a": "2", "m": "3", "k": "4"}
	var first []byte
	for i := range 20 { // map iteration order varies between runs
		var buf bytes.Buffer
		ts := []Tensor{F32Tensor("z", []int{1}, []float32{1}), F32Tensor("a", []int{1}, []float32{2})}
		if err := WriteSafetensors(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.Bytes()
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("write %d differs from the first", i)
		}
	}
}

func TestWriteSafetensorsRejectsBadTensors(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"Duplicate", []Tensor{F32Tensor("a", []int{1}, []float32{1}), F32Tensor("a", []int{1}, []float32{1})}, "duplicate"},
		{"EmptyName", []Tensor{F32Tensor("", []int{1}, []float32{1})}, "empty name"},
		{"Reserved", []Tensor{F32Tensor("__metadata__", []int{1}, []float32{1})}, "reserved"},
		{"UnknownDType", []Tensor{{Name: "a", DType: "F12", Shape: []int{1}, Data: []byte{0}}}, "unknown dtype"},
		{"DataLength", []Tensor{{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}}, "needs 2×4 bytes, has 4"},
		{"NegativeDim", []Tensor{{Name: "a", DType: "U8", Shape: []int{-1}}}, "negative dimension"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteSafetensors(&buf, c.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one saying %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestF32TensorPanicsOnLengthMismatch(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "format: ") {
			t.Fatalf("recover() = %v, want a format: panic", r)
		}
	}()
	F32Tensor("a", []int{2, 2}, make([]float32, 3))
}

// countingReaderAt records the largest single read, to show the reader
// never asks for (so never allocates) more than the header.
type countingReaderAt struct {
	b       []byte
	maxRead int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.maxRead = max(c.maxRead, len(p))
	return bytes.NewReader(c.b).ReadAt(p, off)
}

func TestReadSafetensorsRejectsMalformedFiles(t *testing.T) {
	f32 := func(off0, off1 int, shape string) string {
		return fmt.Sprintf(`{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, shape, off0, off1)
	}
	data8 := make([]byte, 8)
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<62) // header length far past the file
	overLimit := make([]byte, 16)
	binary.LittleEndian.PutUint64(overLimit, 8) // fits the file, over a 4-byte limit
	copy(overLimit[8:], "{}      ")
	cases := []struct {
		name   string
		file   []byte
		limits Limits
		want   string
	}{
		{"ShorterThanLength", []byte{1, 2, 3}, Limits{}, "shorter than the 8-byte header length"},
		{"HeaderLongerThanFile", hugeLen, Limits{MaxHeader: 1<<63 - 1}, "larger than the 8 bytes after it"},
		{"HeaderOverDefaultLimit", hugeLen, Limits{}, "exceeds the limit of 100000000"},
		{"HeaderOverLimit", overLimit, Limits{MaxHeader: 4}, "exceeds the limit of 4"},
		{"NotJSON", file(`{"a" 1}`, nil), Limits{}, "not valid JSON"},
		{"TruncatedJSON", file(`{"a":[1,2`, nil), Limits{}, "not valid JSON: unexpected EOF"},
		{"NotAnObject", file(`[1,2,3] `, nil), Limits{}, "does not start with '{'"},
		{"GarbageAfterObject", file(`{} x`, nil), Limits{}, "not space padding"},
		{"DuplicateKey", file(`{"a":`+f32(0, 4, "[1]")+`,"a":`+f32(4, 8, "[1]")+`}`, data8), Limits{}, `repeats key "a"`},
		{"MetadataNotStrings", file(`{"__metadata__":{"a":1}}`, nil), Limits{}, "must map strings to strings"},
		{"EntryNotObject", file(`{"a":5}`, nil), Limits{}, `tensor "a": header entry`},
		{"UnknownDType", file(`{"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}`, data8), Limits{}, `unknown dtype "F12"`},
		{"MissingDType", file(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, data8), Limits{}, "no dtype"},
		{"MissingShape", file(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, data8), Limits{}, "no shape"},
		{"NegativeDim", file(`{"a":`+f32(0, 8, "[-2,-1]")+`}`, data8), Limits{}, "dimension 0 is -2"},
		{"FractionalDim", file(`{"a":`+f32(0, 8, "[2.5]")+`}`, data8), Limits{}, "dimension 0 is 2.5"},
		{"ElementCountOverflow", file(`{"a":`+f32(0, 8, "[4294967296,4294967296]")+`}`, data8), Limits{}, "more than 2^63 elements"},
		{"TrillionElementsWithoutAllocating", file(`{"a":`+f32(0, 8, "[1000000,1000000]")+`}`, data8), Limits{}, "needs 1000000000000×4 bytes"},
		{"ShapeTimesSizeMismatch", file(`{"a":`+f32(0, 8, "[3]")+`}`, data8), Limits{}, "needs 3×4 bytes but data_offsets [0, 8] hold 8"},
		{"BytesOverflowInt64", file(`{"a":`+f32(0, 8, "[4611686018427387904]")+`}`, data8), Limits{}, "needs 4611686018427387904×4 bytes"},
		{"OffsetsPastEnd", file(`{"a":`+f32(0, 16, "[4]")+`}`, data8), Limits{}, "run past the end of the 8 data bytes"},
		{"OffsetsReversed", file(`{"a":`+f32(8, 0, "[2]")+`}`, data8), Limits{}, "end before they begin"},
		{"OffsetsNotThree", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}`, data8), Limits{}, "data_offsets has 3 numbers"},
		{"Overlapping", file(`{"a":`+f32(0, 8, "[2]")+`,"b":`+f32(4, 8, "[1]")+`}`, data8), Limits{}, "overlap the previous tensor"},
		{"NonContiguous", file(`{"a":`+f32(0, 4, "[1]")+`,"b":`+f32(8, 12, "[1]")+`}`, make([]byte, 12)), Limits{}, "leaving bytes [4, 8) of the data unused"},
		{"NotStartingAtZero", file(`{"a":`+f32(4, 8, "[1]")+`}`, data8), Limits{}, "leaving bytes [0, 4)"},
		{"DataNotCovered", file(`{"a":`+f32(0, 4, "[1]")+`}`, data8), Limits{}, "tensors cover 4 data bytes but the file holds 8"},
		{"FileTruncated", file(`{"a":`+f32(0, 8, "[2]")+`}`, data8[:6]), Limits{}, "run past the end of the 6 data bytes"},
		{"NotUTF8", file("{\"\xff\":1}", nil), Limits{}, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &countingReaderAt{b: c.file}
			_, err := ReadSafetensors(r, int64(len(c.file)), c.limits)
			if err == nil {
				t.Fatal("ReadSafetensors accepted a malformed file")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			if r.maxRead > len(c.file) {
				t.Fatalf("read %d bytes at once from a %d-byte file", r.maxRead, len(c.file))
			}
		})
	}
}

func TestReadSafetensorsAcceptsUnpaddedAndEmptyFiles(t *testing.T) {
	cases := []struct {
		name string
		file []byte
		n    int
	}{
		{"EmptyObject", file(`{}`, nil), 0},
		{"UnpaddedHeader", file(`{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}`, []byte{1, 2, 3}), 1},
		{"ZeroSizedTensor", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), 1},
		// Tensors may be listed in any order in the header; only their
		// offsets decide the layout.
		{"OutOfOrderEntries", file(`{"z":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{7, 9}), 2},
		{"UnknownFieldsIgnored", file(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"extra":true}}`, []byte{4}), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ReadSafetensors(bytes.NewReader(c.file), int64(len(c.file)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) != c.n {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), c.n)
			}
		})
	}
	f, _ := ReadSafetensors(bytes.NewReader(cases[3].file), int64(len(cases[3].file)), Limits{})
	if got := f.Names(); fmt.Sprint(got) != "[a z]" {
		t.Fatalf("Names = %v, want [a z] (offset order)", got)
	}
	z, _ := f.Read("z")
	if !bytes.Equal(z.Data, []byte{9}) {
		t.Fatalf("z = %v, want [9]", z.Data)
	}
}

func TestFileReadHonoursMaxTensorBytes(t *testing.T) {
	var buf bytes.Buffer
	WriteSafetensors(&buf, []Tensor{U8Tensor("big", []int{100}, make([]byte, 100)), U8Tensor("small", []int{1}, []byte{5})}, nil)
	f, err := ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{MaxTensorBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read("big"); err == nil || !strings.Contains(err.Error(), "over the limit of 10") {
		t.Fatalf("Read(big) = %v, want a limit error", err)
	}
	if s, err := f.Read("small"); err != nil || !bytes.Equal(s.Data, []byte{5}) {
		t.Fatalf("Read(small) = %v, %v", s.Data, err)
	}
	sec, err := f.Section("big")
	if err != nil || sec.Size() != 100 {
		t.Fatalf("Section(big) size %d, %v", sec.Size(), err)
	}
}

func TestStreamingWriterMatchesWriteSafetensors(t *testing.T) {
	a := make([]float32, 3000) // more than WriteFloat32s' 1024-value buffer
	for i := range a {
		a[i] = float32(i) * 0.25
	}
	lab := []int64{3, 1, 4}
	meta := map[string]string{"split": "val"}
	var want bytes.Buffer
	if err := WriteSafetensors(&want, []Tensor{F32Tensor("feat", []int{1000, 3}, a), I64Tensor("labels", []int{3}, lab)}, meta); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	sw, err := NewSafetensorsWriter(&got, []TensorInfo{
		{Name: "feat", DType: "F32", Shape: []int{1000, 3}},
		{Name: "labels", DType: "I64", Shape: []int{3}, Begin: 99, End: 7}, // ignored
	}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if r := sw.Remaining(); r != 12000+24 {
		t.Fatalf("Remaining = %d, want 12024", r)
	}
	if err := sw.Close(); err == nil || !strings.Contains(err.Error(), "after 0 of 12024") {
		t.Fatalf("Close before any data = %v, want an incomplete-file error", err)
	}
	if err := sw.WriteFloat32s(a[:1500]); err != nil {
		t.Fatal(err)
	}
	if err := sw.WriteFloat32s(a[1500:]); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Write(I64Tensor("", []int{3}, lab).Data); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Write([]byte{0}); err == nil {
		t.Fatal("writing past the declared data succeeded")
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("streamed file differs from WriteSafetensors' bytes")
	}
	if ti := sw.Infos()[1]; ti.Begin != 12000 || ti.End != 12024 {
		t.Fatalf("labels laid out at [%d, %d), want [12000, 12024)", ti.Begin, ti.End)
	}
}

// decoded is a safetensors file read back whole: its tensors in file order
// and its metadata.
type decoded struct {
	tensors []Tensor
	meta    map[string]string
}

// decodeAll reads every tensor of the file b.
func decodeAll(t *testing.T, b []byte) decoded {
	t.Helper()
	sf, err := ReadSafetensors(bytes.NewReader(b), int64(len(b)), Limits{})
	if err != nil {
		t.Fatalf("ReadSafetensors: %v", err)
	}
	var d decoded
	for _, ti := range sf.Tensors {
		tt, err := sf.Read(ti.Name)
		if err != nil {
			t.Fatalf("Read(%q): %v", ti.Name, err)
		}
		d.tensors = append(d.tensors, tt)
	}
	d.meta = sf.Meta
	return d
}

// encode writes tensors and meta with WriteSafetensors.
func encode(t *testing.T, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, tensors, meta); err != nil {
		t.Fatalf("WriteSafetensors: %v", err)
	}
	return buf.Bytes()
}

// sameTensors reports how want and got differ, as sets by name: every
// tensor's dtype, shape (nil and [] are both a scalar's) and bytes.
func sameTensors(want, got []Tensor) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d tensors, want %d", len(got), len(want))
	}
	byName := map[string]Tensor{}
	for _, g := range got {
		byName[g.Name] = g
	}
	for _, w := range want {
		g, ok := byName[w.Name]
		switch {
		case !ok:
			return fmt.Errorf("tensor %q is missing", w.Name)
		case g.DType != w.DType:
			return fmt.Errorf("tensor %q has dtype %s, want %s", w.Name, g.DType, w.DType)
		case !slices.Equal(g.Shape, w.Shape):
			return fmt.Errorf("tensor %q has shape %v, want %v", w.Name, g.Shape, w.Shape)
		case !bytes.Equal(g.Data, w.Data):
			return fmt.Errorf("tensor %q has bytes %x, want %x", w.Name, g.Data, w.Data)
		}
	}
	return nil
}

// roundTrip checks that encode → decode gives back tensors (by name, with
// dtype, shape and bytes) and meta, and that encode → decode → encode
// reproduces the first encoding byte for byte. It returns that encoding.
func roundTrip(t *testing.T, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	first := encode(t, tensors, meta)
	d := decodeAll(t, first)
	if err := sameTensors(tensors, d.tensors); err != nil {
		t.Fatalf("decode(encode(x)): %v", err)
	}
	if !maps.Equal(meta, d.meta) {
		t.Fatalf("decode(encode(x)) metadata = %q, want %q", d.meta, meta)
	}
	if second := encode(t, d.tensors, d.meta); !bytes.Equal(first, second) {
		t.Fatalf("encode(decode(encode(x))) differs from encode(x):\n%q\n%q", second, first)
	}
	return first
}

func TestSafetensorsEncodeDecodeEncodeIsTheIdentity(t *testing.T) {
	raw := func(name, dtype string, shape []int) Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		size, _ := DTypeSize(dtype)
		b := make([]byte, n*size)
		for i := range b {
			b[i] = byte(i*37 + len(name))
		}
		return Tensor{Name: name, DType: dtype, Shape: shape, Data: b}
	}
	var everyDType []Tensor
	for _, dt := range []string{"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "I64", "U64", "F64"} {
		everyDType = append(everyDType, raw("t_"+dt, dt, []int{2, 3}))
	}
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
	}{
		{"Nothing", nil, nil},
		{"OnlyMetadata", nil, map[string]string{"format": "pt"}},
		{"EveryDType", everyDType, map[string]string{"rule": "bp", "seed": "0"}},
		{"Scalars", []Tensor{raw("s", "F64", []int{}), raw("n", "I32", nil)}, nil},
		{"ZeroSized", []Tensor{raw("a", "F32", []int{0}), raw("b", "U8", []int{3, 0, 2}), raw("c", "I64", []int{1})}, nil},
		// Same dtype and byte count, different shapes: only the shape
		// tells them apart.
		{"ShapesOfEqualSize", []Tensor{raw("x", "F32", []int{2, 6}), raw("y", "F32", []int{3, 4}), raw("z", "F32", []int{12, 1, 1})}, nil},
		// Same bytes, different dtypes: only the dtype tells them apart.
		{"DTypesOfEqualSize", []Tensor{raw("u", "U32", []int{4}), raw("i", "I32", []int{4}), raw("f", "F32", []int{4})}, nil},
		{"NotInNameOrder", []Tensor{raw("zeta", "U8", []int{3}), raw("alpha", "F16", []int{2}), raw("mid", "BF16", []int{1})}, nil},
		{"AwkwardStrings", []Tensor{raw("é/ü \"q\" <&> \\", "U8", []int{1}), raw("\u2028", "U8", []int{2})},
			map[string]string{"": "", "quote\"": "back\\slash", "html": "<a href=\"x\">&</a>", "nl": "a\nb\tc", "uni": "日本語 \u2029"}},
		{"MetadataKeyLikeATensor", []Tensor{raw("w", "U8", []int{1})}, map[string]string{"w": "not a tensor", "__metadata__": "nested"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := roundTrip(t, c.tensors, c.meta)
			checkInsideTheFile(t, b)
		})
	}
}

// checkInsideTheFile checks, independently of ReadSafetensors' own
// checks, that an accepted file's tensors lie inside it: the header length
// taken from the first 8 bytes, the header decoded by encoding/json into
// plain structs, each tensor's data_offsets inside the data section and
// holding its shape × dtype size, the ranges tiling the data exactly, and
// File.Read returning exactly the bytes at those offsets.
func checkInsideTheFile(t *testing.T, b []byte) {
	t.Helper()
	sf, err := ReadSafetensors(bytes.NewReader(b), int64(len(b)), Limits{})
	if err != nil {
		t.Fatalf("ReadSafetensors: %v", err)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		t.Fatalf("accepted a header of %d bytes in a %d-byte file", n, len(b))
	}
	data := b[8+n:]
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatalf("accepted header is not JSON to encoding/json: %v", err)
	}
	delete(hdr, "__metadata__")
	if len(hdr) != len(sf.Tensors) {
		t.Fatalf("header has %d tensor entries, File.Tensors %d", len(hdr), len(sf.Tensors))
	}
	type span struct{ begin, end uint64 }
	var spans []span
	for name, raw := range hdr {
		var e struct {
			DType       string   `json:"dtype"`
			Shape       []uint64 `json:"shape"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("tensor %q: accepted entry does not decode: %v", name, err)
		}
		if len(e.DataOffsets) != 2 {
			t.Fatalf("tensor %q: accepted data_offsets %v", name, e.DataOffsets)
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin > end || end > uint64(len(data)) {
			t.Fatalf("tensor %q: accepted data_offsets [%d, %d] outside the %d data bytes", name, begin, end, len(data))
		}
		size, ok := DTypeSize(e.DType)
		if !ok {
			t.Fatalf("tensor %q: accepted dtype %q", name, e.DType)
		}
		want := new(big.Int).SetUint64(uint64(size))
		for _, d := range e.Shape {
			want.Mul(want, new(big.Int).SetUint64(d))
		}
		if want.Cmp(new(big.Int).SetUint64(end-begin)) != 0 {
			t.Fatalf("tensor %q: shape %v of %s needs %v bytes, data_offsets hold %d", name, e.Shape, e.DType, want, end-begin)
		}
		ti, ok := sf.Info(name)
		if !ok || ti.DType != e.DType || uint64(ti.Begin) != begin || uint64(ti.End) != end || len(ti.Shape) != len(e.Shape) {
			t.Fatalf("tensor %q: File says %+v, the header %+v", name, ti, e)
		}
		for i, d := range e.Shape {
			if uint64(ti.Shape[i]) != d {
				t.Fatalf("tensor %q: File shape %v, header %v", name, ti.Shape, e.Shape)
			}
		}
		got, err := sf.Read(name)
		if err != nil || !bytes.Equal(got.Data, data[begin:end]) {
			t.Fatalf("tensor %q: Read = %x, %v; the file holds %x there", name, got.Data, err, data[begin:end])
		}
		spans = append(spans, span{begin, end})
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.begin != b.begin {
			return cmp.Compare(a.begin, b.begin)
		}
		return cmp.Compare(a.end, b.end)
	})
	var at uint64
	for _, s := range spans {
		if s.begin != at {
			t.Fatalf("accepted tensors leave a gap or overlap at %d (next begins at %d)", at, s.begin)
		}
		at = s.end
	}
	if at != uint64(len(data)) {
		t.Fatalf("accepted tensors cover %d of %d data bytes", at, len(data))
	}
}

// FuzzReadSafetensors checks that no input panics or over-allocates; that
// every accepted file's tensors lie inside it (checkInsideTheFile); and
// that encode → decode → encode of what it holds is the identity,
// including every tensor's dtype and shape and the metadata.
func FuzzReadSafetensors(f *testing.F) {
	var buf bytes.Buffer
	WriteSafetensors(&buf, []Tensor{F32Tensor("w", []int{2}, []float32{1, 2}), U8Tensor("b", []int{1}, []byte{3})}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add(file(`{}`, nil))
	f.Add(file(`{"a":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	// Empty tensors sharing an offset, listed out of name order; escaped
	// names; null metadata; an unknown field; a scalar.
	f.Add(file(`{"b":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"I8","shape":[0,3],"data_offsets":[0,0]},"c":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, []byte{9}))
	f.Add(file(`{"__metadata__":null,"\u00e9\n":{"dtype":"BF16","shape":[1],"data_offsets":[0,2],"x":[1]}}  `, []byte{1, 2}))
	f.Add(file(`{"__metadata__":{"k":"\u003c\"\u2028"},"t":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]}}`, []byte{1, 2, 3, 4}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &countingReaderAt{b: data}
		sf, err := ReadSafetensors(r, int64(len(data)), Limits{})
		if r.maxRead > len(data) {
			t.Fatalf("read %d bytes at once from a %d-byte input", r.maxRead, len(data))
		}
		if err != nil {
			return
		}
		checkInsideTheFile(t, data)
		d := decodeAll(t, data)
		if len(d.tensors) != len(sf.Tensors) {
			t.Fatalf("read %d tensors of %d", len(d.tensors), len(sf.Tensors))
		}
		roundTrip(t, d.tensors, d.meta)
	})
}
