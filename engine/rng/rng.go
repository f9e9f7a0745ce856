package rng

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// Stream is a deterministic random stream. It embeds *rand.Rand, so all of
// math/rand/v2's methods (Float64, IntN, NormFloat64, Perm, Shuffle, ...) are
// available, and it can be checkpointed with MarshalBinary.
type Stream struct {
	*rand.Rand
	src *rand.PCG
}

// New returns the stream for (seed, purpose). The same pair always yields the
// same sequence.
func New(seed uint64, purpose string) *Stream {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	p := h.Sum64()
	s1 := splitmix(seed ^ 0x6a09e667f3bcc909)
	s2 := splitmix(p ^ splitmix(seed))
	src := rand.NewPCG(s1, s2)
	return &Stream{Rand: rand.New(src), src: src}
}

// Sub returns the stream for (seed, purpose+"/"+sub); a convenience for
// families of streams such as per-layer feedback matrices.
func Sub(seed uint64, purpose, sub string) *Stream {
	return New(seed, purpose+"/"+sub)
}

// MarshalBinary returns the stream's current state.
func (s *Stream) MarshalBinary() ([]byte, error) { return s.src.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (s *Stream) UnmarshalBinary(b []byte) error {
	if err := s.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("rng: restoring stream state: %w", err)
	}
	return nil
}

// Uniform32 returns a float32 uniform in [lo, hi).
func (s *Stream) Uniform32(lo, hi float32) float32 {
	return lo + (hi-lo)*float32(s.Float64())
}

// Normal32 returns a float32 drawn from N(0, sigma^2).
func (s *Stream) Normal32(sigma float64) float32 {
	return float32(s.NormFloat64() * sigma)
}

// FillUniform fills dst with values uniform in [-bound, bound).
func (s *Stream) FillUniform(dst []float32, bound float64) {
	for i := range dst {
		dst[i] = float32((2*s.Float64() - 1) * bound)
	}
}

// FillNormal fills dst with values drawn from N(0, sigma^2).
func (s *Stream) FillNormal(dst []float32, sigma float64) {
	for i := range dst {
		dst[i] = float32(s.NormFloat64() * sigma)
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
