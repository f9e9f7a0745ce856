package rng

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestSameSeedSamePurposeSameStream(t *testing.T) {
	a, b := New(7, "init"), New(7, "init")
	for i := 0; i < 1000; i++ {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("draw %d: %x != %x", i, x, y)
		}
	}
}

func TestPurposesAndSeedsDiffer(t *testing.T) {
	streams := []*Stream{New(7, "init"), New(7, "shuffle"), New(8, "init"), Sub(7, "feedback", "fc1"), Sub(7, "feedback", "fc2")}
	seen := map[uint64]int{}
	for i, s := range streams {
		v := s.Uint64()
		if j, ok := seen[v]; ok {
			t.Fatalf("streams %d and %d start with the same value %x", j, i, v)
		}
		seen[v] = i
	}
}

// pinnedDraws is what a fresh stream yields, in this order: four Uint64,
// three Float64, Perm(10), two NormFloat64 and IntN(1000).
type pinnedDraws struct {
	seed    uint64
	purpose string
	u64     [4]uint64
	f64     [3]float64
	perm    [10]int
	norm    [2]float64
	intn    int
}

// draw takes pinnedDraws' sequence from s.
func draw(seed uint64, purpose string, s *Stream) pinnedDraws {
	d := pinnedDraws{seed: seed, purpose: purpose}
	for i := range d.u64 {
		d.u64[i] = s.Uint64()
	}
	for i := range d.f64 {
		d.f64[i] = s.Float64()
	}
	copy(d.perm[:], s.Perm(10))
	for i := range d.norm {
		d.norm[i] = s.NormFloat64()
	}
	d.intn = s.IntN(1000)
	return d
}

var printPinned = flag.Bool("print-pinned", false, "print TestPinned's table from the current code")

// pinned was produced once, by
//
//	go test ./engine/rng -run TestPinned -v -args -print-pinned
//
// and pasted here. The Uint64 and Float64 draws also agree with a
// from-scratch implementation of the documented derivation (FNV-1a of the
// purpose, SplitMix64, PCG-DXSM as math/rand/v2 defines it, Float64 as the
// low 53 bits over 2^53), written outside Go. Any change to
// these numbers changes every run's initial weights, feedback matrices and
// shuffles, so it must come with a FormatVersion bump, never by editing
// this table to match.
var pinned = []pinnedDraws{
	{seed: 42, purpose: "init",
		u64:  [4]uint64{0x4ef13351ca7a2f0, 0xedc986890b566658, 0x76398960e91fa7d3, 0x8652ae5d08ac2a8b},
		f64:  [3]float64{0.28804163037798336, 0.6885670403332889, 0.44627031221118507},
		perm: [10]int{3, 8, 6, 7, 5, 1, 4, 0, 9, 2},
		norm: [2]float64{1.5849057762797827, -0.33495972658215867}, intn: 709},
	{seed: 0, purpose: "shuffle",
		u64:  [4]uint64{0x4e49856959f7be61, 0xd24f4ffa40850af3, 0x7c327248d7cedc2f, 0x3dcd25e8c37ed7e6},
		f64:  [3]float64{0.2579715128998764, 0.001143101401536395, 0.6727331307281064},
		perm: [10]int{3, 7, 9, 1, 5, 4, 6, 2, 8, 0},
		norm: [2]float64{-1.1859837075517021, -1.0150536171505542}, intn: 830},
	{seed: 7, purpose: "feedback/conv2",
		u64:  [4]uint64{0xb82ce0f7fbf315b4, 0x5624675c0402d6db, 0x5c1ae13f3dc14f2b, 0x20bfd61d292216b0},
		f64:  [3]float64{0.013435393857471611, 0.9464304568449308, 0.5988993398121966},
		perm: [10]int{6, 7, 1, 0, 4, 5, 8, 3, 9, 2},
		norm: [2]float64{0.299669345484204, -0.22174182670836773}, intn: 114},
}

func TestPinned(t *testing.T) {
	var got []pinnedDraws
	for _, p := range []struct {
		seed    uint64
		purpose string
	}{{42, "init"}, {0, "shuffle"}, {7, "feedback/conv2"}} {
		got = append(got, draw(p.seed, p.purpose, New(p.seed, p.purpose)))
	}
	if *printPinned {
		for _, d := range got {
			fmt.Printf("\t{seed: %d, purpose: %q,\n\t\tu64:  [4]uint64{%#x, %#x, %#x, %#x},\n\t\tf64:  [3]float64{%v, %v, %v},\n\t\tperm: [10]int{%s},\n\t\tnorm: [2]float64{%v, %v}, intn: %d},\n",
				d.seed, d.purpose, d.u64[0], d.u64[1], d.u64[2], d.u64[3],
				strconv.FormatFloat(d.f64[0], 'g', -1, 64), strconv.FormatFloat(d.f64[1], 'g', -1, 64), strconv.FormatFloat(d.f64[2], 'g', -1, 64),
				strings.Trim(strings.Join(strings.Fields(fmt.Sprint(d.perm)), ", "), "[]"),
				strconv.FormatFloat(d.norm[0], 'g', -1, 64), strconv.FormatFloat(d.norm[1], 'g', -1, 64), d.intn)
		}
	}
	if len(pinned) != len(got) {
		t.Fatalf("%d pinned streams, %d computed", len(pinned), len(got))
	}
	for i, want := range pinned {
		if got[i] != want {
			t.Errorf("New(%d, %q) draws\n%+v\nwant\n%+v", want.seed, want.purpose, got[i], want)
		}
	}
	// Sub is New with the joined purpose.
	if d := draw(7, "feedback/conv2", Sub(7, "feedback", "conv2")); d != pinned[2] {
		t.Errorf("Sub(7, feedback, conv2) draws %+v, want New(7, feedback/conv2)'s %+v", d, pinned[2])
	}
}

func TestMarshalResumes(t *testing.T) {
	a := New(3, "shuffle")
	for i := 0; i < 17; i++ {
		a.Float64()
	}
	state, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 50)
	for i := range want {
		want[i] = a.NormFloat64()
	}
	b := New(999, "other")
	if err := b.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got := b.NormFloat64(); got != want[i] {
			t.Fatalf("draw %d after resume: %v != %v", i, got, want[i])
		}
	}
	if err := b.UnmarshalBinary([]byte("junk")); err == nil {
		t.Fatal("junk state accepted")
	}
}

func TestFillMoments(t *testing.T) {
	s := New(1, "moments")
	const n = 200000
	u := make([]float32, n)
	s.FillUniform(u, 0.5)
	var mean, sq float64
	for _, v := range u {
		if v < -0.5 || v >= 0.5 {
			t.Fatalf("uniform value %v out of range", v)
		}
		mean += float64(v)
		sq += float64(v) * float64(v)
	}
	mean /= n
	// Var of U(-a,a) is a^2/3.
	if math.Abs(mean) > 0.005 || math.Abs(sq/n-0.25/3) > 0.002 {
		t.Fatalf("uniform moments: mean %v var %v", mean, sq/n)
	}
	s.FillNormal(u, 0.1)
	mean, sq = 0, 0
	for _, v := range u {
		mean += float64(v)
		sq += float64(v) * float64(v)
	}
	if math.Abs(mean/n) > 0.001 || math.Abs(sq/n-0.01) > 0.0003 {
		t.Fatalf("normal moments: mean %v var %v", mean/n, sq/n)
	}
}
