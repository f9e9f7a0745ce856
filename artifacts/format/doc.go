// Package format holds the on-disk forms of fabeam's artifacts:
// safetensors files for tensors (checkpoints, features, datasets) and
// deterministic JSON records.
//
// # Safetensors
//
// The layout follows the reference implementation
// (https://github.com/huggingface/safetensors), so PyTorch
// (safetensors.torch.load_file) and NumPy users load our files directly:
//
//	[8 bytes]  N, unsigned little-endian: the header length
//	[N bytes]  JSON object, UTF-8, starting with '{', space-padded:
//	           {"name": {"dtype": "F32", "shape": [d0, d1, ...],
//	                     "data_offsets": [begin, end]}, ...,
//	            "__metadata__": {"key": "value", ...}}
//	[rest]     the data: each tensor's row-major little-endian bytes at
//	           [begin, end) relative to the data's start
//
// Invariants the reader enforces (each violation is an error naming the
// tensor and the problem, returned before anything sized by the file is
// allocated; the only allocation is the header itself, bounded by the file
// size and Limits.MaxHeader, 100 MB by default as in the reference):
//
//	8 + N <= file size, N <= MaxHeader
//	the header is one JSON object with unique keys, then only spaces
//	dtype ∈ {BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16,
//	         I32, U32, F32, I64, U64, F64}
//	every dimension is an integer >= 0; the element count fits int64
//	element count × dtype size == end − begin   (checked without overflow)
//	0 <= begin <= end <= data size
//	sorted by begin, the ranges tile [0, data size) exactly: the first
//	begins at 0, each begins where the previous ended, the last ends at
//	the end of the file
//
// So a shape of 10^12 elements is rejected by arithmetic, not by a failed
// allocation, and File.Read allocates at most one tensor's bytes, which
// the checks bound by the file size (and by Limits.MaxTensorBytes if set).
//
// The writer is deterministic: header keys sorted (so "__metadata__" comes
// before lower-case names), compact JSON, padded with spaces to a multiple
// of 8 bytes so the data starts 8-byte aligned; tensors are laid out back
// to back in the order given. Equal inputs give identical bytes, which the
// pipeline's content-addressed artifact keys rely on. The reference
// writer instead orders tensors by dtype alignment then name; we keep the
// caller's order (put wide dtypes first if alignment matters for mmap).
// For tensors too big to hold twice in memory (1.5 GB feature files),
// NewSafetensorsWriter writes the header from shapes alone and lets the
// caller stream the data; Close reports a file left incomplete.
//
// Decisions where the spec is silent: unknown fields in a tensor entry
// are ignored (as the reference's serde does); tensor entries may appear
// in any order in the header; zero-element tensors ([0] or [0, 5]) have
// begin == end and are allowed; a header need not be padded to be read;
// __metadata__ values must be strings; sub-byte dtypes (F4, F6_*) are not
// supported. File.Tensors is sorted by offset (ties, from empty tensors,
// by end then header order).
//
// # JSON records
//
// MarshalJSON writes records (results.json, history.json, configs) with a
// two-space indent and a trailing newline; encoding/json orders struct
// fields by declaration and map keys by sorting, so the bytes are a pure
// function of the value. NaN and ±Inf are errors: omit what is undefined.
// UnmarshalJSON is strict (unknown fields and trailing data are errors)
// so a typo in a hand-edited config is reported, not ignored.
//
// Tests: FuzzReadSafetensors (and a table test over every dtype, scalars,
// empty tensors and awkward names and metadata) checks that encode → decode
// → encode is the identity, dtypes, shapes and metadata included, and,
// with a check independent of the reader (header length from the first 8
// bytes, the header through plain encoding/json), that every accepted
// file's tensors lie inside it and tile its data exactly.
//
// Errors from data (a malformed file, a bad record) are returned, prefixed
// "format:"; the typed constructors (F32Tensor, ...) panic when the slice
// length does not match the shape, which is a programmer error.
package format
