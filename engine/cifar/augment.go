package cifar

import (
	"fmt"

	"github.com/fabeam/fabeam/engine/rng"
)

// InputSize is the number of float32 values of one network input, (3,24,24) = 1,728.
const InputSize = Channels * CropSize * CropSize

// MaxOffset is the largest crop offset along each axis (32 - 24 = 8).
const MaxOffset = Height - CropSize

// CenterOffset is the offset of the centre crop along each axis (4), as
// torchvision's CenterCrop computes it: round((32-24)/2).
const CenterOffset = MaxOffset / 2

// normLUT[c][p] is pixel value p of channel c scaled and normalised exactly
// as torchvision does it in float32: ToTensor (p/255), then Normalize
// ((x - mean) / std).
var normLUT = func() (t [Channels][256]float32) {
	for c := 0; c < Channels; c++ {
		for p := 0; p < 256; p++ {
			x := float32(p) / 255
			t[c][p] = (x - Mean[c]) / Std[c]
		}
	}
	return t
}()

// Normalize returns pixel value p of channel c scaled to [0,1] and normalised
// with the paper's mean and std, in float32:
//
//	(p/255 - Mean[c]) / Std[c]
func Normalize(c int, p uint8) float32 { return normLUT[c][p] }

// CropFlip writes into dst, (3,24,24), the 24×24 window of img, (3,32,32),
// whose top-left corner is (dy, dx), mirrored left-right when flip is set,
// each value normalised by Normalize:
//
//	dst[c,y,x] = Normalize(c, img[c, dy+y, dx+x'])   x' = 23-x if flip else x
//
// The flip is applied to the cropped window (torchvision's RandomCrop then
// RandomHorizontalFlip). It panics if the offsets are outside 0..8 or the
// slices have the wrong length.
func CropFlip(dst []float32, img []uint8, dy, dx int, flip bool) {
	if len(dst) != InputSize || len(img) != ImageBytes {
		panic(fmt.Sprintf("cifar: CropFlip: len(dst) = %d, len(img) = %d; want %d, %d", len(dst), len(img), InputSize, ImageBytes))
	}
	if dy < 0 || dy > MaxOffset || dx < 0 || dx > MaxOffset {
		panic(fmt.Sprintf("cifar: CropFlip: offset (%d,%d) outside 0..%d", dy, dx, MaxOffset))
	}
	for c := 0; c < Channels; c++ {
		lut := &normLUT[c]
		for y := 0; y < CropSize; y++ {
			src := img[c*Height*Width+(dy+y)*Width+dx:][:CropSize]
			out := dst[(c*CropSize+y)*CropSize:][:CropSize]
			if flip {
				for x := range out {
					out[x] = lut[src[CropSize-1-x]]
				}
			} else {
				for x := range out {
					out[x] = lut[src[x]]
				}
			}
		}
	}
}

// CenterCrop writes into dst, (3,24,24), the normalised centre 24×24 window
// of img, (3,32,32): CropFlip(dst, img, 4, 4, false). This is the val/test
// transform.
func CenterCrop(dst []float32, img []uint8) { CropFlip(dst, img, CenterOffset, CenterOffset, false) }

// RandomCropFlip is the training transform: it draws the row offset dy, then
// the column offset dx, each uniform in 0..8 (r.IntN(9)), then flip with
// probability 1/2 (r.IntN(2) == 1), and calls CropFlip. Exactly three draws
// are made per image, so a stream's position depends only on how many images
// it has augmented.
func RandomCropFlip(dst []float32, img []uint8, r *rng.Stream) {
	dy := r.IntN(MaxOffset + 1)
	dx := r.IntN(MaxOffset + 1)
	flip := r.IntN(2) == 1
	CropFlip(dst, img, dy, dx, flip)
}

// CenterCropSet returns the centre crops of all images of s, (n,3,24,24).
func CenterCropSet(s *Set) []float32 {
	out := make([]float32, s.Len()*InputSize)
	for i := 0; i < s.Len(); i++ {
		CenterCrop(out[i*InputSize:(i+1)*InputSize], s.Image(i))
	}
	return out
}

// RandomCropFlipBatch writes into dst, (len(idx),3,24,24), the training
// transform of images idx of s, drawing from r in idx order.
func RandomCropFlipBatch(dst []float32, s *Set, idx []int, r *rng.Stream) {
	if len(dst) != len(idx)*InputSize {
		panic(fmt.Sprintf("cifar: RandomCropFlipBatch: len(dst) = %d, want %d", len(dst), len(idx)*InputSize))
	}
	for k, i := range idx {
		RandomCropFlip(dst[k*InputSize:(k+1)*InputSize], s.Image(i), r)
	}
}

// CenterCropBatch writes into dst, (len(idx),3,24,24), the centre crops of
// images idx of s.
func CenterCropBatch(dst []float32, s *Set, idx []int) {
	if len(dst) != len(idx)*InputSize {
		panic(fmt.Sprintf("cifar: CenterCropBatch: len(dst) = %d, want %d", len(dst), len(idx)*InputSize))
	}
	for k, i := range idx {
		CenterCrop(dst[k*InputSize:(k+1)*InputSize], s.Image(i))
	}
}
