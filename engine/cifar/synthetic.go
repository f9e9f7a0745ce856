package cifar

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/fabeam/fabeam/engine/rng"
)

// Synthetic returns n synthetic images with balanced labels (label i%10 of a
// shuffled order), drawn from rng.New(seed, "cifar/synthetic").
//
// Each class has its own mean colour and its own stripe pattern: image pixel
//
//	p[c,y,x] = 128 + 70*colour[k][c] + 45*sin(2π f_k (x cos θ_k + y sin θ_k)/32 + φ) + noise
//
// with θ_k = kπ/10, f_k = 2 + k%3, a random phase φ per image and Gaussian
// noise of std 20 per pixel, clamped to 0..255. Colour and stripe frequency
// survive any 24×24 crop and flip, so a small CNN learns the classes within
// an epoch or two, yet they are not separable by a single pixel.
func Synthetic(n int, seed uint64) *Set {
	if n < 0 {
		panic(fmt.Sprintf("cifar: Synthetic: n = %d < 0", n))
	}
	return synthetic(n, rng.New(seed, "cifar/synthetic"))
}

// synColour is the per-class mean colour offset in units of 70 grey levels.
var synColour = [NumClasses][Channels]float64{
	{-1, -1, 1}, {1, -1, -1}, {-1, 1, -1}, {1, 1, -1}, {0, 0, 0},
	{1, -1, 1}, {-1, 1, 1}, {1, 0, -1}, {0, -1, 1}, {-1, 0, 0},
}

func synthetic(n int, r *rng.Stream) *Set {
	s := &Set{Images: make([]uint8, n*ImageBytes), Labels: make([]uint8, n)}
	for i := range s.Labels {
		s.Labels[i] = uint8(i % NumClasses)
	}
	r.Shuffle(n, func(i, j int) { s.Labels[i], s.Labels[j] = s.Labels[j], s.Labels[i] })
	for i := 0; i < n; i++ {
		k := int(s.Labels[i])
		theta := float64(k) * math.Pi / NumClasses
		freq := 2 * math.Pi * float64(2+k%3) / Width
		cx, sy := math.Cos(theta)*freq, math.Sin(theta)*freq
		phase := 2 * math.Pi * r.Float64()
		img := s.Images[i*ImageBytes : (i+1)*ImageBytes]
		for c := 0; c < Channels; c++ {
			base := 128 + 70*synColour[k][c]
			for y := 0; y < Height; y++ {
				for x := 0; x < Width; x++ {
					v := base + 45*math.Sin(cx*float64(x)+sy*float64(y)+phase) + 20*r.NormFloat64()
					img[(c*Height+y)*Width+x] = uint8(math.Round(math.Max(0, math.Min(255, v))))
				}
			}
		}
	}
	return s
}

// WriteSynthetic writes the six files of a CIFAR-10 data directory into dir
// (created if needed), perFile synthetic records each, in the real binary
// format; Load(dir) then returns 5*perFile training and perFile test images.
// File f draws from rng.New(seed, "cifar/synthetic/"+f), so files are
// independent and the directory is a pure function of (perFile, seed). Each
// file is written atomically.
func WriteSynthetic(dir string, perFile int, seed uint64) error {
	if perFile <= 0 {
		panic(fmt.Sprintf("cifar: WriteSynthetic: perFile = %d, want > 0", perFile))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cifar: creating synthetic data directory: %w", err)
	}
	for _, f := range AllFiles() {
		s := synthetic(perFile, rng.New(seed, "cifar/synthetic/"+f))
		if err := WriteFile(filepath.Join(dir, f), s); err != nil {
			return err
		}
	}
	return nil
}
