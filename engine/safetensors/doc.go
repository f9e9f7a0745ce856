// Package safetensors reads and writes the safetensors file format
// (https://github.com/huggingface/safetensors), which PyTorch and NumPy load
// directly: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and data offsets plus string metadata, then the data.
//
// The reader validates everything before it allocates anything sized by the
// file: header length, UTF-8 and JSON syntax, dtypes, shapes whose element
// count fits, offsets that tile the data exactly and lie inside the file.
// The engine's checkpoints (engine/train) use it directly; artifacts/format
// re-exports it for the pipeline's artifacts and documents the layout in
// full.
package safetensors
