package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"unicode/utf8"
)

// dtypeSizes maps every safetensors dtype this package reads to its size
// in bytes. Sub-byte dtypes (F4, F6_*) are not supported.
var dtypeSizes = map[string]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// DTypeSize returns the size in bytes of one element of dtype, and false
// for a dtype this package does not know.
func DTypeSize(dtype string) (int, bool) {
	s, ok := dtypeSizes[dtype]
	return int(s), ok
}

// metadataKey is the header entry holding free-form string metadata.
const metadataKey = "__metadata__"

// DefaultMaxHeader is the largest header ReadSafetensors accepts when
// Limits.MaxHeader is zero: 100 MB, the reference implementation's limit.
const DefaultMaxHeader = 100_000_000

// Tensor is one named tensor with its little-endian bytes.
type Tensor struct {
	Name  string
	DType string // "F32", "F64", "I64", "I32", "U8", ... (see DTypeSize)
	Shape []int  // row-major; [] is a scalar
	Data  []byte // little-endian, len = product(Shape) * DTypeSize(DType)
}

// numel returns the element count of shape, or an error if a dimension is
// negative or the count overflows int64.
func numel(shape []int) (int64, error) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v has more than 2^63 elements", shape)
		}
		n = lo
	}
	return int64(n), nil
}

// mustNumel is numel for shapes our own code builds; it panics on a bad
// shape.
func mustNumel(fn string, shape []int) int {
	n, err := numel(shape)
	if err != nil || n > math.MaxInt {
		panic(fmt.Sprintf("format: %s: bad shape %v", fn, shape))
	}
	return int(n)
}

// F32Tensor returns a tensor holding v (copied, little-endian) with the
// given shape. It panics if len(v) is not the shape's element count.
func F32Tensor(name string, shape []int, v []float32) Tensor {
	if n := mustNumel("F32Tensor", shape); n != len(v) {
		panic(fmt.Sprintf("format: F32Tensor %q: shape %v holds %d elements, got %d", name, shape, n, len(v)))
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: "F32", Shape: cloneShape(shape), Data: b}
}

// F64Tensor is F32Tensor for float64 values.
func F64Tensor(name string, shape []int, v []float64) Tensor {
	if n := mustNumel("F64Tensor", shape); n != len(v) {
		panic(fmt.Sprintf("format: F64Tensor %q: shape %v holds %d elements, got %d", name, shape, n, len(v)))
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: "F64", Shape: cloneShape(shape), Data: b}
}

// I64Tensor is F32Tensor for int64 values (labels, indices).
func I64Tensor(name string, shape []int, v []int64) Tensor {
	if n := mustNumel("I64Tensor", shape); n != len(v) {
		panic(fmt.Sprintf("format: I64Tensor %q: shape %v holds %d elements, got %d", name, shape, n, len(v)))
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: "I64", Shape: cloneShape(shape), Data: b}
}

// I32Tensor is F32Tensor for int32 values.
func I32Tensor(name string, shape []int, v []int32) Tensor {
	if n := mustNumel("I32Tensor", shape); n != len(v) {
		panic(fmt.Sprintf("format: I32Tensor %q: shape %v holds %d elements, got %d", name, shape, n, len(v)))
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: "I32", Shape: cloneShape(shape), Data: b}
}

// U8Tensor is F32Tensor for bytes (images); v is copied.
func U8Tensor(name string, shape []int, v []byte) Tensor {
	if n := mustNumel("U8Tensor", shape); n != len(v) {
		panic(fmt.Sprintf("format: U8Tensor %q: shape %v holds %d elements, got %d", name, shape, n, len(v)))
	}
	return Tensor{Name: name, DType: "U8", Shape: cloneShape(shape), Data: bytes.Clone(v)}
}

func cloneShape(s []int) []int {
	c := make([]int, len(s))
	copy(c, s)
	return c
}

// check returns an error unless t's dtype is known and its data length
// matches its shape.
func (t Tensor) check(want string) error {
	if want != "" && t.DType != want {
		return fmt.Errorf("format: tensor %q is %s, not %s", t.Name, t.DType, want)
	}
	size, ok := dtypeSizes[t.DType]
	if !ok {
		return fmt.Errorf("format: tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n, err := numel(t.Shape)
	if err != nil {
		return fmt.Errorf("format: tensor %q: %w", t.Name, err)
	}
	if hi, lo := bits.Mul64(uint64(n), uint64(size)); hi != 0 || lo != uint64(len(t.Data)) {
		return fmt.Errorf("format: tensor %q: shape %v of %s needs %d×%d bytes, has %d", t.Name, t.Shape, t.DType, n, size, len(t.Data))
	}
	return nil
}

// Float32s decodes an F32 tensor's data.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.check("F32"); err != nil {
		return nil, err
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Float64s decodes an F64 tensor's data.
func (t Tensor) Float64s() ([]float64, error) {
	if err := t.check("F64"); err != nil {
		return nil, err
	}
	v := make([]float64, len(t.Data)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// Int64s decodes an I64 tensor's data.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.check("I64"); err != nil {
		return nil, err
	}
	v := make([]int64, len(t.Data)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// Int32s decodes an I32 tensor's data.
func (t Tensor) Int32s() ([]int32, error) {
	if err := t.check("I32"); err != nil {
		return nil, err
	}
	v := make([]int32, len(t.Data)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// TensorInfo describes one tensor of a file: its name, dtype, shape and
// byte range [Begin, End) relative to the start of the data section.
type TensorInfo struct {
	Name       string
	DType      string
	Shape      []int
	Begin, End int64
}

// Bytes returns End - Begin.
func (ti TensorInfo) Bytes() int64 { return ti.End - ti.Begin }

// buildHeader lays infos out back to back in the given order (setting
// Begin and End) and returns the complete header: the 8-byte length and
// the JSON padded with spaces to a multiple of 8 bytes. Keys are written
// in sorted order, so the bytes depend only on the arguments.
func buildHeader(infos []TensorInfo, meta map[string]string) ([]byte, []TensorInfo, error) {
	out, err := layOut(infos)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("format: metadata %q: not valid UTF-8", k)
		}
	}
	js := headerJSON(out, meta)
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	hdr := make([]byte, 8, 8+len(js))
	binary.LittleEndian.PutUint64(hdr, uint64(len(js)))
	return append(hdr, js...), out, nil
}

// layOut checks each tensor's name, dtype and shape and places the tensors
// back to back from offset 0, in the given order.
func layOut(infos []TensorInfo) ([]TensorInfo, error) {
	out := make([]TensorInfo, len(infos))
	seen := map[string]bool{}
	var off int64
	for i, ti := range infos {
		switch {
		case ti.Name == "":
			return nil, fmt.Errorf("format: tensor %d has an empty name", i)
		case ti.Name == metadataKey:
			return nil, fmt.Errorf("format: tensor name %q is reserved", metadataKey)
		case !utf8.ValidString(ti.Name):
			return nil, fmt.Errorf("format: tensor name %q is not valid UTF-8", ti.Name)
		case seen[ti.Name]:
			return nil, fmt.Errorf("format: duplicate tensor name %q", ti.Name)
		}
		seen[ti.Name] = true
		size, ok := dtypeSizes[ti.DType]
		if !ok {
			return nil, fmt.Errorf("format: tensor %q: unknown dtype %q", ti.Name, ti.DType)
		}
		n, err := numel(ti.Shape)
		if err != nil {
			return nil, fmt.Errorf("format: tensor %q: %w", ti.Name, err)
		}
		hi, nb := bits.Mul64(uint64(n), uint64(size))
		if hi != 0 || nb > math.MaxInt64-uint64(off) {
			return nil, fmt.Errorf("format: tensor %q: shape %v is too large", ti.Name, ti.Shape)
		}
		out[i] = TensorInfo{Name: ti.Name, DType: ti.DType, Shape: cloneShape(ti.Shape), Begin: off, End: off + int64(nb)}
		off += int64(nb)
	}
	return out, nil
}

// headerJSON encodes the header object, keys sorted: one entry per tensor
// of infos (already laid out) and "__metadata__" when meta is not empty.
func headerJSON(infos []TensorInfo, meta map[string]string) []byte {
	type entry struct {
		DType       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	keys := make([]string, 0, len(infos)+1)
	byName := map[string]TensorInfo{}
	for _, ti := range infos {
		keys = append(keys, ti.Name)
		byName[ti.Name] = ti
	}
	if len(meta) > 0 {
		keys = append(keys, metadataKey)
	}
	sort.Strings(keys)
	var js bytes.Buffer
	js.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			js.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		js.Write(kb)
		js.WriteByte(':')
		var vb []byte
		var err error
		if k == metadataKey {
			vb, err = json.Marshal(meta) // encoding/json sorts map keys
		} else {
			ti := byName[k]
			vb, err = json.Marshal(entry{ti.DType, ti.Shape, [2]int64{ti.Begin, ti.End}})
		}
		if err != nil {
			panic("format: " + err.Error())
		}
		js.Write(vb)
	}
	js.WriteByte('}')
	return js.Bytes()
}

// WriteSafetensors writes tensors and meta as one safetensors file: the
// header (keys sorted, padded to 8 bytes), then each tensor's bytes in the
// given order. The same arguments always give the same bytes. It returns
// an error, writing nothing, if a tensor's name is empty, reserved or
// repeated, its dtype unknown, or its data length not its shape's.
func WriteSafetensors(w io.Writer, tensors []Tensor, meta map[string]string) error {
	infos := make([]TensorInfo, len(tensors))
	for i, t := range tensors {
		if err := t.check(""); err != nil {
			return err
		}
		infos[i] = TensorInfo{Name: t.Name, DType: t.DType, Shape: t.Shape}
	}
	hdr, _, err := buildHeader(infos, meta)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("format: writing safetensors header: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("format: writing tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// SafetensorsWriter streams a safetensors file whose tensors are too big
// to hold in memory at once: the header goes out first, then the caller
// writes every tensor's bytes, in the order of the infos given, through
// Write (or WriteFloat32s), and calls Close to check nothing is missing.
type SafetensorsWriter struct {
	w       io.Writer
	infos   []TensorInfo
	total   int64
	written int64
	err     error
}

// NewSafetensorsWriter writes the header for infos (Name, DType, Shape;
// Begin and End are ignored and computed, back to back in the given
// order) and meta, and returns a writer for the data that follows.
func NewSafetensorsWriter(w io.Writer, infos []TensorInfo, meta map[string]string) (*SafetensorsWriter, error) {
	hdr, laid, err := buildHeader(infos, meta)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("format: writing safetensors header: %w", err)
	}
	var total int64
	if len(laid) > 0 {
		total = laid[len(laid)-1].End
	}
	return &SafetensorsWriter{w: w, infos: laid, total: total}, nil
}

// Infos returns the tensors with their computed byte ranges.
func (s *SafetensorsWriter) Infos() []TensorInfo { return s.infos }

// Remaining returns how many data bytes are still to be written.
func (s *SafetensorsWriter) Remaining() int64 { return s.total - s.written }

// Write writes the next data bytes. Writing past the end of the last
// tensor is an error and writes nothing.
func (s *SafetensorsWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if int64(len(p)) > s.total-s.written {
		return 0, fmt.Errorf("format: safetensors writer: %d bytes is more than the %d the header declares still to come", len(p), s.total-s.written)
	}
	n, err := s.w.Write(p)
	s.written += int64(n)
	if err != nil {
		s.err = fmt.Errorf("format: writing safetensors data: %w", err)
		return n, s.err
	}
	return n, nil
}

// WriteFloat32s writes v as little-endian float32 data, through a small
// fixed buffer.
func (s *SafetensorsWriter) WriteFloat32s(v []float32) error {
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
		}
		if _, err := s.Write(buf[:4*n]); err != nil {
			return err
		}
		v = v[n:]
	}
	return nil
}

// Close reports an error if fewer bytes were written than the header
// declares (the file would be truncated). It does not close the
// underlying writer.
func (s *SafetensorsWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	if s.written != s.total {
		return fmt.Errorf("format: safetensors writer closed after %d of %d data bytes; the file is incomplete", s.written, s.total)
	}
	return nil
}

// Limits bounds what ReadSafetensors accepts. Zero fields take defaults.
type Limits struct {
	// MaxHeader is the largest JSON header in bytes (default 100 MB).
	MaxHeader int64
	// MaxTensorBytes is the largest single tensor File.Read will allocate
	// (default: no bound beyond the file's size, which offsets are checked
	// against).
	MaxTensorBytes int64
}

// File is an opened safetensors file: its metadata and tensor table,
// read and validated by ReadSafetensors; tensor data is read on demand.
type File struct {
	// Meta is the __metadata__ map (empty if absent).
	Meta map[string]string
	// Tensors lists every tensor, sorted by offset.
	Tensors []TensorInfo

	r         io.ReaderAt
	dataStart int64
	limits    Limits
	index     map[string]int
}

// headerEntry is one tensor of the JSON header as found in a file.
type headerEntry struct {
	DType       *string       `json:"dtype"`
	Shape       []json.Number `json:"shape"`
	DataOffsets []json.Number `json:"data_offsets"`
}

// ReadSafetensors reads and validates the header of the size-byte
// safetensors file r. It checks, before allocating anything sized by the
// file: the header length against the file size and limits.MaxHeader; that
// the header is a JSON object with unique keys whose entries have a known
// dtype, non-negative integer dimensions, and offsets; that each tensor's
// element count times its dtype size equals its byte range; and that the
// ranges, sorted, tile the data section exactly (no gap, no overlap, no
// byte past the end, none left over). Any failure is an error naming the
// tensor and the problem.
func ReadSafetensors(r io.ReaderAt, size int64, limits Limits) (*File, error) {
	if limits.MaxHeader <= 0 {
		limits.MaxHeader = DefaultMaxHeader
	}
	hdr, err := readHeader(r, size, limits)
	if err != nil {
		return nil, err
	}
	dataStart := int64(8 + len(hdr))
	dataSize := size - dataStart
	entries, meta, err := parseHeader(hdr)
	if err != nil {
		return nil, invalid("%v", err)
	}
	f := &File{Meta: meta, r: r, dataStart: dataStart, limits: limits, index: map[string]int{}}
	for _, e := range entries {
		ti, err := e.info(dataSize)
		if err != nil {
			return nil, invalid("tensor %q: %v", e.name, err)
		}
		f.Tensors = append(f.Tensors, ti)
	}
	if err := f.checkTiling(dataSize, size); err != nil {
		return nil, err
	}
	return f, nil
}

// invalid is the error of a file that is not valid safetensors.
func invalid(format string, a ...any) error {
	return fmt.Errorf("format: not a valid safetensors file: "+format, a...)
}

// readHeader reads and checks the 8-byte header length and the header's
// JSON bytes (within limits and the file, starting with '{', valid UTF-8).
func readHeader(r io.ReaderAt, size int64, limits Limits) ([]byte, error) {
	if size < 8 {
		return nil, invalid("%d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("format: reading safetensors header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n > uint64(limits.MaxHeader):
		return nil, invalid("header length %d exceeds the limit of %d bytes", n, limits.MaxHeader)
	case n > uint64(size-8):
		return nil, invalid("header length %d is larger than the %d bytes after it", n, size-8)
	case n < 2:
		return nil, invalid("header length %d is too short for a JSON object", n)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("format: reading safetensors header: %w", err)
	}
	if hdr[0] != '{' {
		return nil, invalid("header does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, invalid("header is not valid UTF-8")
	}
	return hdr, nil
}

// checkTiling sorts f.Tensors by byte range, checks that the ranges tile
// the dataSize bytes of data exactly, and indexes the tensors by name.
func (f *File) checkTiling(dataSize, size int64) error {
	sort.SliceStable(f.Tensors, func(i, j int) bool {
		a, b := f.Tensors[i], f.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var at int64
	for i, ti := range f.Tensors {
		switch {
		case ti.Begin < at:
			return invalid("tensor %q bytes [%d, %d) overlap the previous tensor %q, which ends at %d", ti.Name, ti.Begin, ti.End, f.Tensors[i-1].Name, at)
		case ti.Begin > at:
			return invalid("tensor %q starts at %d, leaving bytes [%d, %d) of the data unused (offsets must be contiguous)", ti.Name, ti.Begin, at, ti.Begin)
		}
		at = ti.End
		f.index[ti.Name] = i
	}
	if at != dataSize {
		return invalid("tensors cover %d data bytes but the file holds %d after its header (file size %d mismatches the header)", at, dataSize, size)
	}
	return nil
}

// rawEntry is one header tensor before validation.
type rawEntry struct {
	name string
	e    headerEntry
}

// parseHeader decodes the header object, rejecting duplicate keys and
// anything after the object but spaces.
func parseHeader(hdr []byte) ([]rawEntry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("header is not a JSON object: %v", err)
	}
	meta := map[string]string{}
	var entries []rawEntry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("header is not valid JSON: key %v", tok)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("header repeats key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			var m map[string]string
			if err := dec.Decode(&m); err != nil {
				return nil, nil, fmt.Errorf("%s must map strings to strings: %v", metadataKey, err)
			}
			for k, v := range m {
				meta[k] = v
			}
			continue
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
			}
			return nil, nil, fmt.Errorf("tensor %q: header entry is not {dtype, shape, data_offsets}: %v", key, err)
		}
		entries = append(entries, rawEntry{key, e})
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	rest := hdr[dec.InputOffset():]
	if len(bytes.Trim(rest, " ")) != 0 {
		return nil, nil, fmt.Errorf("header has %d bytes after its JSON object that are not space padding", len(rest))
	}
	return entries, meta, nil
}

// info validates one entry against a data section of dataSize bytes.
func (r rawEntry) info(dataSize int64) (TensorInfo, error) {
	e := r.e
	if r.name == "" {
		return TensorInfo{}, errors.New("empty tensor name")
	}
	if e.DType == nil {
		return TensorInfo{}, errors.New("no dtype")
	}
	size, ok := dtypeSizes[*e.DType]
	if !ok {
		return TensorInfo{}, fmt.Errorf("unknown dtype %q", *e.DType)
	}
	if e.Shape == nil {
		return TensorInfo{}, errors.New("no shape")
	}
	shape := make([]int, len(e.Shape))
	for i, d := range e.Shape {
		v, err := strconv.ParseInt(string(d), 10, 64)
		if err != nil || v < 0 || v > math.MaxInt {
			return TensorInfo{}, fmt.Errorf("dimension %d is %s, not a non-negative integer", i, d)
		}
		shape[i] = int(v)
	}
	count, err := numel(shape)
	if err != nil {
		return TensorInfo{}, err
	}
	if len(e.DataOffsets) != 2 {
		return TensorInfo{}, fmt.Errorf("data_offsets has %d numbers, want [begin, end]", len(e.DataOffsets))
	}
	var off [2]int64
	for i, s := range e.DataOffsets {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || v < 0 {
			return TensorInfo{}, fmt.Errorf("data_offsets[%d] is %s, not a non-negative integer", i, s)
		}
		off[i] = v
	}
	begin, end := off[0], off[1]
	switch {
	case begin > end:
		return TensorInfo{}, fmt.Errorf("data_offsets [%d, %d] end before they begin", begin, end)
	case end > dataSize:
		return TensorInfo{}, fmt.Errorf("data_offsets [%d, %d] run past the end of the %d data bytes", begin, end, dataSize)
	}
	if hi, lo := bits.Mul64(uint64(count), uint64(size)); hi != 0 || lo != uint64(end-begin) {
		return TensorInfo{}, fmt.Errorf("shape %v of %s needs %d×%d bytes but data_offsets [%d, %d] hold %d", shape, *e.DType, count, size, begin, end, end-begin)
	}
	return TensorInfo{Name: r.name, DType: *e.DType, Shape: shape, Begin: begin, End: end}, nil
}

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// Names returns the tensor names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i, ti := range f.Tensors {
		names[i] = ti.Name
	}
	return names
}

// Section returns a reader over the named tensor's bytes, for tensors too
// big to read whole.
func (f *File) Section(name string) (*io.SectionReader, error) {
	ti, ok := f.Info(name)
	if !ok {
		return nil, fmt.Errorf("format: safetensors file has no tensor %q (it has %q)", name, f.Names())
	}
	return io.NewSectionReader(f.r, f.dataStart+ti.Begin, ti.Bytes()), nil
}

// Read reads the named tensor's bytes through the file's ReaderAt.
func (f *File) Read(name string) (Tensor, error) {
	ti, ok := f.Info(name)
	if !ok {
		return Tensor{}, fmt.Errorf("format: safetensors file has no tensor %q (it has %q)", name, f.Names())
	}
	if f.limits.MaxTensorBytes > 0 && ti.Bytes() > f.limits.MaxTensorBytes {
		return Tensor{}, fmt.Errorf("format: tensor %q is %d bytes, over the limit of %d; read it with Section", name, ti.Bytes(), f.limits.MaxTensorBytes)
	}
	data := make([]byte, ti.Bytes())
	if _, err := f.r.ReadAt(data, f.dataStart+ti.Begin); err != nil && !(err == io.EOF && len(data) == 0) {
		return Tensor{}, fmt.Errorf("format: reading tensor %q: %w", name, err)
	}
	return Tensor{Name: ti.Name, DType: ti.DType, Shape: cloneShape(ti.Shape), Data: data}, nil
}
