package cifar

import "fmt"

// MT19937 is the 32-bit Mersenne Twister of Matsumoto and Nishimura (1998),
// as NumPy's legacy RandomState uses it: seeded with init_genrand, tempered
// outputs via Uint32. It exists to reproduce NumPy's permutation exactly, not
// as a general-purpose generator (use engine/rng for that).
type MT19937 struct {
	mt  [mtN]uint32
	idx int
}

const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// NewMT19937 returns a generator seeded with init_genrand(seed) of the 2002
// reference implementation, which is what np.random.seed(seed) does for an
// integer seed below 2^32:
//
//	mt[0] = seed
//	mt[i] = 1812433253 * (mt[i-1] ^ (mt[i-1] >> 30)) + i   (mod 2^32)
func NewMT19937(seed uint32) *MT19937 {
	m := &MT19937{idx: mtN}
	m.mt[0] = seed
	for i := 1; i < mtN; i++ {
		m.mt[i] = 1812433253*(m.mt[i-1]^(m.mt[i-1]>>30)) + uint32(i)
	}
	return m
}

// Uint32 returns the next tempered 32-bit output (genrand_int32).
func (m *MT19937) Uint32() uint32 {
	if m.idx >= mtN {
		m.twist()
	}
	y := m.mt[m.idx]
	m.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// twist regenerates the 624-word state block.
func (m *MT19937) twist() {
	for i := 0; i < mtN; i++ {
		y := (m.mt[i] & mtUpperMask) | (m.mt[(i+1)%mtN] & mtLowerMask)
		v := m.mt[(i+mtM)%mtN] ^ (y >> 1)
		if y&1 != 0 {
			v ^= mtMatrixA
		}
		m.mt[i] = v
	}
	m.idx = 0
}

// Interval returns a value uniform in [0, max] the way NumPy's legacy
// random_interval does for max < 2^32: draw 32-bit outputs, keep the bits
// under the smallest all-ones mask covering max, reject values above max.
func (m *MT19937) Interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	for {
		if v := m.Uint32() & mask; v <= max {
			return v
		}
	}
}

// NumpyPermutation returns what
//
//	np.random.seed(seed); np.random.permutation(n)
//
// returns with NumPy's legacy global RandomState: arange(n) shuffled by
// Fisher–Yates from the end, for i = n-1 down to 1 swapping element i with
// element Interval(i). It panics if n is negative or not below 2^32 (NumPy
// switches to 64-bit draws there; not needed here).
func NumpyPermutation(seed uint32, n int) []int {
	if n < 0 || uint64(n) > 1<<32 {
		panic(fmt.Sprintf("cifar: NumpyPermutation: n = %d outside [0, 2^32]", n))
	}
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	m := NewMT19937(seed)
	for i := n - 1; i >= 1; i-- {
		j := int(m.Interval(uint32(i)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// SplitSeed is the NumPy seed of the paper's train/validation split.
const SplitSeed = 42

// SplitIndices returns the paper's split rule applied to n training images:
// perm = NumpyPermutation(42, n); train = perm[:n-n/10], val = perm[n-n/10:].
// For n = 50,000 that is exactly the paper's 45,000 / 5,000 split; smaller n
// (synthetic data) keep the same 90/10 proportion.
func SplitIndices(n int) (tr, val []int) {
	p := NumpyPermutation(SplitSeed, n)
	cut := n - n/10
	return p[:cut:cut], p[cut:]
}

// PaperSplitIndices returns the paper's split of the 50,000 CIFAR-10 training
// images: the first 45,000 and last 5,000 entries of
// np.random.seed(42); np.random.permutation(50000).
func PaperSplitIndices() (tr, val []int) { return SplitIndices(TrainSize + ValSize) }

// PaperSplit splits the training set into the paper's train and validation
// sets (copies): train = train[perm[:45000]], val = train[perm[45000:]] for the
// 50,000 real images; other sizes follow SplitIndices.
func PaperSplit(train *Set) (tr, val *Set) {
	ti, vi := SplitIndices(train.Len())
	return train.Subset(ti), train.Subset(vi)
}
