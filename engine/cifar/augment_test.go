package cifar

import (
	"math"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// randomImage returns a (3,32,32) image of uniform random bytes.
func randomImage(seed uint64) []uint8 {
	r := rng.New(seed, "test/image")
	img := make([]uint8, ImageBytes)
	for i := range img {
		img[i] = uint8(r.IntN(256))
	}
	return img
}

func TestNormalizeMatchesTheFormulaOnHandWorkedValues(t *testing.T) {
	// (p/255 - mean)/std by hand, with the paper's mean and std:
	tests := []struct {
		c    int
		p    uint8
		want float64
	}{
		{0, 0, -0.4914 / 0.2470},                // -1.98947...
		{0, 255, (1 - 0.4914) / 0.2470},         // 2.05911...
		{1, 128, (128.0/255 - 0.4822) / 0.2435}, // 0.08101...
		{2, 0, -0.4465 / 0.2616},                // -1.70680...
		{2, 255, (1 - 0.4465) / 0.2616},         // 2.11582...
	}
	for _, tt := range tests {
		if got := Normalize(tt.c, tt.p); math.Abs(float64(got)-tt.want) > 1e-6 {
			t.Errorf("Normalize(%d,%d) = %.7f, want %.7f", tt.c, tt.p, got, tt.want)
		}
	}
	// And bit-for-bit what torchvision computes in float32.
	for c := 0; c < 3; c++ {
		for p := 0; p < 256; p++ {
			x := float32(p) / 255
			x -= Mean[c]
			x /= Std[c]
			if got := Normalize(c, uint8(p)); got != x {
				t.Fatalf("Normalize(%d,%d) = %v, float32 torchvision order gives %v", c, p, got, x)
			}
		}
	}
}

// naiveCropFlip is the reference: a direct transcription of the definition,
// taking the crop first and then mirroring it.
func naiveCropFlip(img []uint8, dy, dx int, flip bool) []float32 {
	var crop [3][24][24]uint8
	for c := 0; c < 3; c++ {
		for y := 0; y < 24; y++ {
			for x := 0; x < 24; x++ {
				crop[c][y][x] = img[c*32*32+(y+dy)*32+(x+dx)]
			}
		}
	}
	out := make([]float32, 0, InputSize)
	for c := 0; c < 3; c++ {
		for y := 0; y < 24; y++ {
			for x := 0; x < 24; x++ {
				xx := x
				if flip {
					xx = 23 - x
				}
				v := (float32(crop[c][y][xx])/255 - Mean[c]) / Std[c]
				out = append(out, v)
			}
		}
	}
	return out
}

func TestCropFlipMatchesNaiveReferenceAtEveryOffset(t *testing.T) {
	img := randomImage(1)
	dst := make([]float32, InputSize)
	for dy := 0; dy <= 8; dy++ {
		for dx := 0; dx <= 8; dx++ {
			for _, flip := range []bool{false, true} {
				CropFlip(dst, img, dy, dx, flip)
				want := naiveCropFlip(img, dy, dx, flip)
				for i := range want {
					if dst[i] != want[i] {
						t.Fatalf("dy=%d dx=%d flip=%v: element %d = %v, want %v", dy, dx, flip, i, dst[i], want[i])
					}
				}
			}
		}
	}
}

func TestCropFlipHandWorkedCorners(t *testing.T) {
	// Image whose only non-zero pixels mark known positions.
	img := make([]uint8, ImageBytes)
	img[0*1024+2*32+3] = 255      // R at (y=2,x=3)
	img[2*1024+(2+23)*32+3] = 255 // B at (y=25,x=3)
	dst := make([]float32, InputSize)
	CropFlip(dst, img, 2, 3, false)
	// Window rows 2..25, cols 3..26: R(2,3) is the top-left corner, B(25,3) the bottom-left.
	if dst[0] != Normalize(0, 255) || dst[2*576+23*24+0] != Normalize(2, 255) {
		t.Errorf("unflipped corners %v, %v", dst[0], dst[2*576+23*24])
	}
	CropFlip(dst, img, 2, 3, true)
	// Mirrored, they move to the right-hand column x = 23.
	if dst[23] != Normalize(0, 255) || dst[2*576+23*24+23] != Normalize(2, 255) || dst[0] != Normalize(0, 0) {
		t.Errorf("flipped corners %v, %v, %v", dst[23], dst[2*576+23*24+23], dst[0])
	}
}

func TestCenterCropIsTheWindowAtFourFour(t *testing.T) {
	img := randomImage(2)
	got := make([]float32, InputSize)
	CenterCrop(got, img)
	want := naiveCropFlip(img, 4, 4, false)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d = %v, want %v", i, got[i], want[i])
		}
	}
	s := Synthetic(3, 9)
	all := CenterCropSet(s)
	if len(all) != 3*InputSize {
		t.Fatalf("CenterCropSet length %d", len(all))
	}
	batch := make([]float32, 2*InputSize)
	CenterCropBatch(batch, s, []int{2, 0})
	for i := 0; i < 3; i++ {
		want := naiveCropFlip(s.Image(i), 4, 4, false)
		for j := range want {
			if all[i*InputSize+j] != want[j] {
				t.Fatalf("CenterCropSet image %d element %d differs", i, j)
			}
		}
	}
	for j := 0; j < InputSize; j++ {
		if batch[j] != all[2*InputSize+j] || batch[InputSize+j] != all[j] {
			t.Fatalf("CenterCropBatch element %d differs", j)
		}
	}
}

// identify finds the (dy, dx, flip) whose CropFlip equals out.
func identify(t *testing.T, img []uint8, out []float32) (int, int, bool) {
	dst := make([]float32, InputSize)
	for dy := 0; dy <= 8; dy++ {
		for dx := 0; dx <= 8; dx++ {
			for _, flip := range []bool{false, true} {
				CropFlip(dst, img, dy, dx, flip)
				same := true
				for i := range dst {
					if dst[i] != out[i] {
						same = false
						break
					}
				}
				if same {
					return dy, dx, flip
				}
			}
		}
	}
	t.Fatal("output is no crop of the image")
	return 0, 0, false
}

func TestRandomCropFlipDrawsUniformOffsetsAndFairFlips(t *testing.T) {
	img := randomImage(3)
	r := rng.New(11, "test/augment")
	out := make([]float32, InputSize)
	const draws = 4000
	var dys, dxs [9]int
	flips := 0
	for i := 0; i < draws; i++ {
		RandomCropFlip(out, img, r)
		dy, dx, flip := identify(t, img, out)
		dys[dy]++
		dxs[dx]++
		if flip {
			flips++
		}
	}
	// Each offset has p = 1/9: mean 444.4, sd sqrt(4000*(1/9)*(8/9)) = 19.9;
	// allow 5 sd. Flips: mean 2000, sd 31.6.
	for v := 0; v < 9; v++ {
		if math.Abs(float64(dys[v])-draws/9.0) > 5*19.9 || math.Abs(float64(dxs[v])-draws/9.0) > 5*19.9 {
			t.Errorf("offset %d drawn %d (dy) / %d (dx) times of %d, want about 444", v, dys[v], dxs[v], draws)
		}
	}
	if math.Abs(float64(flips)-2000) > 5*31.6 {
		t.Errorf("%d flips of %d", flips, draws)
	}
}

func TestRandomCropFlipIsDeterministicPerStream(t *testing.T) {
	s := Synthetic(4, 1)
	a := make([]float32, 4*InputSize)
	b := make([]float32, 4*InputSize)
	RandomCropFlipBatch(a, s, []int{0, 1, 2, 3}, rng.New(5, "augment"))
	r := rng.New(5, "augment")
	for i := 0; i < 4; i++ {
		// Documented draw order: dy, dx, flip.
		dy, dx, flip := r.IntN(9), r.IntN(9), r.IntN(2) == 1
		CropFlip(b[i*InputSize:(i+1)*InputSize], s.Image(i), dy, dx, flip)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("element %d: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestCropFlipPanicsOnBadArguments(t *testing.T) {
	img := make([]uint8, ImageBytes)
	dst := make([]float32, InputSize)
	for name, f := range map[string]func(){
		"dy=9":      func() { CropFlip(dst, img, 9, 0, false) },
		"dx=-1":     func() { CropFlip(dst, img, 0, -1, false) },
		"short dst": func() { CropFlip(dst[:10], img, 0, 0, false) },
		"short img": func() { CropFlip(dst, img[:100], 0, 0, false) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "cifar: CropFlip") {
					t.Errorf("%s: recovered %v", name, r)
				}
			}()
			f()
		}()
	}
}
