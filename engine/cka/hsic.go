package cka

import (
	"fmt"
	"math"
)

// unbiasedHSIC is the unbiased HSIC estimator of Song et al. (2012), in the
// form of docs/paper.md, from its four sums over an n-example batch with
// K~ = K, L~ = L with zero diagonals:
//
//	tr = tr(K~ L~) = Σ_{i≠j} K_ij L_ij
//	sk = 1ᵀ K~ 1,  sl = 1ᵀ L~ 1
//	u  = 1ᵀ K~ L~ 1 = Σ_i (K~1)_i (L~1)_i
//	HSIC = [tr + sk·sl/((n-1)(n-2)) - 2u/(n-2)] / (n(n-3))
func unbiasedHSIC(n int, tr, sk, sl, u float64) float64 {
	nf := float64(n)
	return (tr + sk*sl/((nf-1)*(nf-2)) - 2*u/(nf-2)) / (nf * (nf - 3))
}

// ratio is num / sqrt(a·b), or NaN when a or b is not positive (a
// representation without variance, or a negative unbiased self-estimate).
func ratio(num, a, b float64) float64 {
	if !(a > 0 && b > 0) {
		return math.NaN()
	}
	return num / (math.Sqrt(a) * math.Sqrt(b))
}

func checkGrams(where string, k, l []float64, n int) {
	if n < 0 || len(k) != n*n || len(l) != n*n {
		panic(fmt.Sprintf("cka: %s: Gram matrices have %d and %d elements, want n*n = %d", where, len(k), len(l), n*n))
	}
}

// LinearGram returns CKA with the biased HSIC estimator from two n×n
// row-major symmetric Gram matrices (Kornblith et al. 2019, eq. 4 with
// HSIC = tr(KHLH)/(n-1)²; the (n-1)² cancels):
//
//	CKA = ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F),  H = I - 11ᵀ/n
//
// K and L may be any kernel's Gram matrices; with Gram(x) and Gram(y) the
// result is the linear CKA of x and y. Centring is done in float64 with the
// Grams' row and grand means. It returns NaN when either centred Gram is zero
// and panics if the lengths are not n*n.
func LinearGram(k, l []float64, n int) float64 {
	checkGrams("LinearGram", k, l, n)
	kc, lc := centreGram(k, n), centreGram(l, n)
	var kl, kk, ll float64
	for i := range kc {
		kl += kc[i] * lc[i]
		kk += kc[i] * kc[i]
		ll += lc[i] * lc[i]
	}
	return ratio(kl, kk, ll)
}

// centreGram returns HKH for a symmetric K.
func centreGram(k []float64, n int) []float64 {
	mean := make([]float64, n)
	var grand float64
	for i := 0; i < n; i++ {
		var s float64
		for _, v := range k[i*n : (i+1)*n] {
			s += v
		}
		mean[i] = s / float64(n)
		grand += s
	}
	grand /= float64(n) * float64(n)
	c := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			c[i*n+j] = k[i*n+j] - mean[i] - mean[j] + grand
		}
	}
	return c
}

// UnbiasedGram returns CKA with the unbiased HSIC estimator (Song et al.
// 2012; as used for CKA by Nguyen, Raghu & Kornblith 2021) from two n×n
// row-major symmetric Gram matrices:
//
//	CKA = HSIC₁(K,L) / sqrt(HSIC₁(K,K) HSIC₁(L,L))
//	HSIC₁(K,L) = [tr(K~L~) + (1ᵀK~1)(1ᵀL~1)/((n-1)(n-2)) - 2/(n-2) 1ᵀK~L~1] / (n(n-3))
//
// where K~, L~ are K, L with zero diagonals. It returns NaN when a self term
// HSIC₁(K,K) or HSIC₁(L,L) is not positive, and panics if n < 4 or the
// lengths are not n*n.
func UnbiasedGram(k, l []float64, n int) float64 {
	checkGrams("UnbiasedGram", k, l, n)
	if n < 4 {
		panic(fmt.Sprintf("cka: UnbiasedGram: the unbiased HSIC needs at least 4 examples, got %d", n))
	}
	rk, rl := make([]float64, n), make([]float64, n)
	var kl, kk, ll float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			a, b := k[i*n+j], l[i*n+j]
			rk[i] += a
			rl[i] += b
			kl += a * b
			kk += a * a
			ll += b * b
		}
	}
	var sk, sl, ukl, ukk, ull float64
	for i := 0; i < n; i++ {
		sk += rk[i]
		sl += rl[i]
		ukl += rk[i] * rl[i]
		ukk += rk[i] * rk[i]
		ull += rl[i] * rl[i]
	}
	return ratio(unbiasedHSIC(n, kl, sk, sl, ukl), unbiasedHSIC(n, kk, sk, sk, ukk), unbiasedHSIC(n, ll, sl, sl, ull))
}
