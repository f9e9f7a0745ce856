package format

import (
	"io"

	"github.com/fabeam/fabeam/engine/safetensors"
)

// The safetensors codec lives in engine/safetensors, so that the engine's
// checkpoints use it without importing artifacts/. These names keep the
// artifacts' callers reading it as part of the artifacts' formats; see the
// package documentation for the layout and the invariants.
type (
	// Tensor is one named tensor: dtype, shape and little-endian data.
	Tensor = safetensors.Tensor
	// TensorInfo describes a tensor to stream with a SafetensorsWriter.
	TensorInfo = safetensors.TensorInfo
	// SafetensorsWriter streams tensors declared up front.
	SafetensorsWriter = safetensors.SafetensorsWriter
	// Limits bounds what ReadSafetensors accepts.
	Limits = safetensors.Limits
	// File is a validated safetensors file.
	File = safetensors.File
)

// DefaultMaxHeader is the largest header ReadSafetensors accepts by default.
const DefaultMaxHeader = safetensors.DefaultMaxHeader

// DTypeSize returns the size in bytes of one element of dtype.
func DTypeSize(dtype string) (int, bool) { return safetensors.DTypeSize(dtype) }

// F32Tensor, F64Tensor, I64Tensor, I32Tensor and U8Tensor build tensors
// from Go slices; they panic if shape does not hold len(v) elements.
func F32Tensor(name string, shape []int, v []float32) Tensor {
	return safetensors.F32Tensor(name, shape, v)
}

// F64Tensor: see F32Tensor.
func F64Tensor(name string, shape []int, v []float64) Tensor {
	return safetensors.F64Tensor(name, shape, v)
}

// I64Tensor: see F32Tensor.
func I64Tensor(name string, shape []int, v []int64) Tensor {
	return safetensors.I64Tensor(name, shape, v)
}

// I32Tensor: see F32Tensor.
func I32Tensor(name string, shape []int, v []int32) Tensor {
	return safetensors.I32Tensor(name, shape, v)
}

// U8Tensor: see F32Tensor.
func U8Tensor(name string, shape []int, v []byte) Tensor { return safetensors.U8Tensor(name, shape, v) }

// WriteSafetensors writes tensors and meta as one safetensors file.
func WriteSafetensors(w io.Writer, tensors []Tensor, meta map[string]string) error {
	return safetensors.WriteSafetensors(w, tensors, meta)
}

// NewSafetensorsWriter writes the header for infos and returns a writer for
// their data, in order.
func NewSafetensorsWriter(w io.Writer, infos []TensorInfo, meta map[string]string) (*SafetensorsWriter, error) {
	return safetensors.NewSafetensorsWriter(w, infos, meta)
}

// ReadSafetensors validates and reads a safetensors file of size bytes.
func ReadSafetensors(r io.ReaderAt, size int64, limits Limits) (*File, error) {
	return safetensors.ReadSafetensors(r, size, limits)
}
