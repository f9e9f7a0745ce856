package cifar

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
)

// The reference values in this file were produced with Debian 12's
// python3-numpy 1.24.2 (apt-get install -y python3-numpy; /usr/bin/python3):
//
//	import numpy as np, hashlib
//	np.random.seed(42); p = np.random.permutation(50000)
//	list(p[:20]); list(p[-20:])
//	hashlib.sha256(p.astype('<i8').tobytes()).hexdigest()
//	b = np.random.MT19937(); b._legacy_seeding(42); b.random_raw(5)
//	np.random.RandomState(42).get_state()[1][:3]

func TestMT19937FirstOutputsOfSeed42MatchNumpy(t *testing.T) {
	// np.random.MT19937()._legacy_seeding(42).random_raw(5); the same five
	// come from RandomState(42).randint(0, 2**32, size=5, dtype=np.uint64).
	want := []uint32{1608637542, 3421126067, 4083286876, 787846414, 3143890026}
	m := NewMT19937(42)
	// init_genrand state words: RandomState(42).get_state()[1][:3].
	if got := m.mt[:3]; !slices.Equal(got, []uint32{42, 3107752595, 1895908407}) {
		t.Errorf("state after init_genrand(42) starts %v, want [42 3107752595 1895908407]", got)
	}
	for i, w := range want {
		if got := m.Uint32(); got != w {
			t.Errorf("output %d = %d, want %d", i, got, w)
		}
	}
}

func TestMT19937TenThousandthOutputOfDefaultSeedIsTheStandardValue(t *testing.T) {
	// C++11 [rand.predef]: the 10000th consecutive invocation of a
	// default-constructed std::mt19937 (seed 5489) produces 4123659995.
	m := NewMT19937(5489)
	var v uint32
	for i := 0; i < 10000; i++ {
		v = m.Uint32()
	}
	if v != 4123659995 {
		t.Fatalf("10000th output = %d, want 4123659995", v)
	}
}

func TestIntervalStaysInRangeAndHitsEveryValue(t *testing.T) {
	m := NewMT19937(1)
	for _, max := range []uint32{0, 1, 2, 5, 8, 9, 16, 1000} {
		seen := make([]bool, max+1)
		for i := 0; i < 200*int(max+1); i++ {
			v := m.Interval(max)
			if v > max {
				t.Fatalf("Interval(%d) = %d", max, v)
			}
			seen[v] = true
		}
		for v, ok := range seen {
			if !ok {
				t.Errorf("Interval(%d) never returned %d in %d draws", max, v, 200*int(max+1))
			}
		}
	}
}

// permSHA256 is hashlib.sha256(p.astype('<i8').tobytes()).hexdigest().
func permSHA256(p []int) string {
	b := make([]byte, 8*len(p))
	for i, v := range p {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestNumpyPermutationSeed42Of50000MatchesNumpy(t *testing.T) {
	p := NumpyPermutation(42, 50000)
	first := []int{33553, 9427, 199, 12447, 39489, 42724, 10822, 49498, 4144, 36958, 43106, 38695, 6188, 1414, 18471, 29282, 15177, 34304, 12609, 12144}
	last := []int{17568, 39188, 37819, 5311, 2433, 769, 1685, 41090, 16023, 44131, 47191, 21962, 37194, 16850, 6265, 11284, 44732, 38158, 860, 15795}
	if !slices.Equal(p[:20], first) {
		t.Errorf("first 20 = %v\nwant       %v", p[:20], first)
	}
	if !slices.Equal(p[len(p)-20:], last) {
		t.Errorf("last 20 = %v\nwant      %v", p[len(p)-20:], last)
	}
	// The hash pins all 50,000 values.
	if got, want := permSHA256(p), "a63a4e0e80c1fdf6c21741cab4374bf26799dc5dbdbc11697af31da7be221b00"; got != want {
		t.Errorf("sha256 of the whole permutation = %s, numpy gives %s", got, want)
	}
}

func TestNumpyPermutationOtherSeedsAndSizesMatchNumpy(t *testing.T) {
	// sha256 as in permSHA256, from np.random.seed(seed); np.random.permutation(n).
	tests := []struct {
		seed uint32
		n    int
		want []int // the whole permutation when short, else nil
		sha  string
	}{
		{0, 10, []int{2, 8, 4, 9, 1, 6, 7, 3, 0, 5}, "59a6f8b823231de56c27035e72c843baa34d375a4a80432954a3cde1d4c92f32"},
		{1, 1000, nil, "8f07541c8ff62b5740684787b7919e08232700b1cf2a8790640b6384e0a0bc07"},
		{12345, 3, []int{0, 1, 2}, "ab25350e3e65efebe24584461683ecda68725576e825e550038b90e7b1479946"},
		{42, 1, []int{0}, "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"},
		{42, 2, []int{1, 0}, "4cbbd8ca5215b8d161aec181a74b694f4e24b001d5b081dc0030ed797a8973e0"},
		{4294967295, 777, nil, "bd8e292659da24f98c13fbb0efe2c1a735209e08d803fe779e67457740adb66e"},
		{7, 65537, nil, "a86e7a01256f4f128d529b2eacb895eb7bcd1d71106797d2ca999b20136f6036"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("seed%d_n%d", tt.seed, tt.n), func(t *testing.T) {
			p := NumpyPermutation(tt.seed, tt.n)
			if tt.want != nil && !slices.Equal(p, tt.want) {
				t.Errorf("got %v, want %v", p, tt.want)
			}
			if got := permSHA256(p); got != tt.sha {
				t.Errorf("sha256 = %s, numpy gives %s", got, tt.sha)
			}
		})
	}
	if p := NumpyPermutation(42, 0); len(p) != 0 {
		t.Errorf("n = 0 gave %v", p)
	}
}

func TestPaperSplitIndicesArePermutationHalvesAndCoverAll(t *testing.T) {
	tr, val := PaperSplitIndices()
	if len(tr) != TrainSize || len(val) != ValSize {
		t.Fatalf("sizes %d/%d, want %d/%d", len(tr), len(val), TrainSize, ValSize)
	}
	p := NumpyPermutation(42, 50000)
	if !slices.Equal(tr, p[:45000]) || !slices.Equal(val, p[45000:]) {
		t.Fatal("split is not perm[:45000], perm[45000:]")
	}
	seen := make([]bool, 50000)
	for _, i := range append(slices.Clone(tr), val...) {
		if seen[i] {
			t.Fatalf("index %d appears twice", i)
		}
		seen[i] = true
	}
}

func TestPaperSplitCopiesTheIndexedRecords(t *testing.T) {
	s := Synthetic(50, 3)
	tr, val := PaperSplit(s)
	ti, vi := SplitIndices(50)
	if len(ti) != 45 || len(vi) != 5 {
		t.Fatalf("SplitIndices(50) sizes %d/%d, want 45/5", len(ti), len(vi))
	}
	for _, c := range []struct {
		got *Set
		idx []int
	}{{tr, ti}, {val, vi}} {
		for k, i := range c.idx {
			if c.got.Labels[k] != s.Labels[i] || !slices.Equal(c.got.Image(k), s.Image(i)) {
				t.Fatalf("record %d is not source record %d", k, i)
			}
		}
	}
	tr.Images[0]++
	if tr.Images[0] == s.Images[ti[0]*ImageBytes] {
		t.Error("PaperSplit shares memory with its input")
	}
}

func ExampleNumpyPermutation() {
	// np.random.seed(0); np.random.permutation(10)
	fmt.Println(NumpyPermutation(0, 10))
	// Output: [2 8 4 9 1 6 7 3 0 5]
}
