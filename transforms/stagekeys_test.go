package transforms

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// presetStageKeys lists the stage keys a preset's study computes, one
// "what key" line each: the dataset, every grid point, and per rule the
// final run, extraction, saliency and comparison (against bp) for each
// point it could be trained with (smoke: either of its two grid points;
// paper: the paper's choice, which its grid search also selects).
func presetStageKeys(t *testing.T, preset string) []string {
	t.Helper()
	c, err := PresetConfig(preset, "mem://keys", "/data")
	if err != nil {
		t.Fatal(err)
	}
	ds := DatasetKey(c)
	lines := []string{"dataset " + ds}
	for _, rule := range c.OrderedRules() {
		for i, p := range c.GridPoints[rule] {
			spec := RunSpec{Stage: StageGrid, DatasetKey: ds, Rule: rule, Point: p, Index: i, Seed: c.Seeds[0], Epochs: c.GridEpochs}
			lines = append(lines, fmt.Sprintf("grid %s %d %s", rule, i, RunKey(c, spec)))
		}
	}
	finals := map[string][]Point{}
	for _, rule := range c.OrderedRules() {
		if preset == "smoke" {
			finals[rule] = c.GridPoints[rule]
		} else {
			finals[rule] = []Point{c.Chosen[rule]}
		}
	}
	for i := range finals["bp"] {
		extracts := map[string]ExtractResult{}
		for _, rule := range c.OrderedRules() {
			spec := RunSpec{Stage: StageTrain, DatasetKey: ds, Rule: rule, Point: finals[rule][i], Seed: c.Seeds[0], Epochs: c.Epochs}
			run := RunResult{Stage: StageTrain, Key: RunKey(c, spec), DatasetKey: ds, Rule: rule, Seed: spec.Seed}
			ex := ExtractResult{Key: ExtractKey(run), RunKey: run.Key, DatasetKey: ds, Rule: rule, Seed: spec.Seed}
			extracts[rule] = ex
			lines = append(lines,
				fmt.Sprintf("train %s %d %s", rule, i, run.Key),
				fmt.Sprintf("extract %s %d %s", rule, i, ex.Key),
				fmt.Sprintf("saliency %s %d %s", rule, i, SaliencyKey(c, run)))
		}
		for _, rule := range c.OrderedRules()[1:] {
			lines = append(lines, fmt.Sprintf("compare %s %d %s", rule, i, CompareKey(c, extracts[rule], extracts["bp"])))
		}
	}
	return lines
}

// TestStageKeysOfThePresetsArePinned guards the cache of long runs: the
// keys below were computed once and must never change unless FormatVersion
// (or a stage's configuration) changes on purpose. Set
// FABEAM_PRINT_STAGE_KEYS=1 to print the current keys.
func TestStageKeysOfThePresetsArePinned(t *testing.T) {
	for _, preset := range []string{"smoke", "paper"} {
		got := presetStageKeys(t, preset)
		if os.Getenv("FABEAM_PRINT_STAGE_KEYS") == "1" {
			fmt.Printf("%q: `\n%s\n`,\n", preset, strings.Join(got, "\n"))
			continue
		}
		want := strings.Split(strings.TrimSpace(pinnedStageKeys[preset]), "\n")
		if len(got) != len(want) {
			t.Errorf("%s: %d stage keys, want %d", preset, len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("%s: stage key %d = %q, want %q", preset, i, got[i], want[i])
			}
		}
	}
}

// pinnedStageKeys are presetStageKeys at FormatVersion 1.
var pinnedStageKeys = map[string]string{
	"smoke": `
dataset dataset/78145c13bb7b227f
grid bp 0 grid/8c515ae8f667c0cd
grid bp 1 grid/ca704726106f5e53
grid fa_random 0 grid/ddd54a1329b66f57
grid fa_random 1 grid/ae4a30c627e8f064
grid fa_toeplitz 0 grid/7af1204d37024f48
grid fa_toeplitz 1 grid/e3b5a7c00b1d0e2d
grid usf_init 0 grid/39d18855032fda67
grid usf_init 1 grid/daefa4e22d5178d1
grid usf_sn 0 grid/0310aa2a91387b15
grid usf_sn 1 grid/43ac07faba6f4a1a
train bp 0 train/a72ccef5c4b85e22
extract bp 0 extract/42060289eedd1cd3
saliency bp 0 saliency/4020b21e02653b18
train fa_random 0 train/f88880352d38d373
extract fa_random 0 extract/695528863f587220
saliency fa_random 0 saliency/f34e14d22fa62347
train fa_toeplitz 0 train/7d0d5f105a6cae66
extract fa_toeplitz 0 extract/fa5b72e46ca28140
saliency fa_toeplitz 0 saliency/d168fb516c7245aa
train usf_init 0 train/88d2bedce8a2209b
extract usf_init 0 extract/26f7e29ba8880e38
saliency usf_init 0 saliency/eaa6bc6679ce360b
train usf_sn 0 train/f3857bed8c21a747
extract usf_sn 0 extract/16ca247a212ce7b2
saliency usf_sn 0 saliency/eaf006d4634c5e2b
compare fa_random 0 compare/5616489778e86c6b
compare fa_toeplitz 0 compare/905fa28ff115731d
compare usf_init 0 compare/0b6934833a7890b6
compare usf_sn 0 compare/470726b6bdf0db02
train bp 1 train/77bca4b8a2d5d6ac
extract bp 1 extract/08b3a49a6588a4c2
saliency bp 1 saliency/827333f75470938e
train fa_random 1 train/92d1e0410cbfde2e
extract fa_random 1 extract/27345381e52df71f
saliency fa_random 1 saliency/0461bbca204a32c7
train fa_toeplitz 1 train/04997da2013124c2
extract fa_toeplitz 1 extract/b10030504de13840
saliency fa_toeplitz 1 saliency/b2e2dfbaf6b5b9a0
train usf_init 1 train/99f558b07f616940
extract usf_init 1 extract/e547b18cf9bfa8e1
saliency usf_init 1 saliency/432ea3576c74ff77
train usf_sn 1 train/0d9a2e4641141574
extract usf_sn 1 extract/8c3abb67dc78bceb
saliency usf_sn 1 saliency/d1001f1a6f162d6f
compare fa_random 1 compare/20593e6109e98e31
compare fa_toeplitz 1 compare/8d8157063683a82e
compare usf_init 1 compare/fae3c004abdffa10
compare usf_sn 1 compare/68f250c950806715
`,
	"paper": `
dataset dataset/0eb62a9d482f874e
grid bp 0 grid/26311e03fbfd16a8
grid bp 1 grid/cfee615ef94198db
grid bp 2 grid/e6280d386bc33452
grid bp 3 grid/9a94164fc9f2cfcb
grid bp 4 grid/7f1ebe746e8e2790
grid bp 5 grid/8d49bf93dd16fc7c
grid fa_random 0 grid/f62138c58145994e
grid fa_random 1 grid/0b001dc5814105f1
grid fa_random 2 grid/9b9d3167fc396907
grid fa_random 3 grid/2214fcb1656ff586
grid fa_random 4 grid/a55b195501b44689
grid fa_random 5 grid/3143d413ff83a54f
grid fa_random 6 grid/fdcecdc9ba004b6f
grid fa_random 7 grid/3df49f679af1b629
grid fa_random 8 grid/8e6ae32fe5abd32b
grid fa_toeplitz 0 grid/c27776d63a42fa04
grid fa_toeplitz 1 grid/d4da3c784cfb49df
grid fa_toeplitz 2 grid/f8f10566a2e61339
grid fa_toeplitz 3 grid/4883c220a293dd4a
grid fa_toeplitz 4 grid/d496bdf4238d5ae7
grid fa_toeplitz 5 grid/0b2b042a077220f5
grid fa_toeplitz 6 grid/35917503c36d89d6
grid fa_toeplitz 7 grid/5fbf11b32f6e093b
grid fa_toeplitz 8 grid/e2ec9c2f063df0d7
grid usf_init 0 grid/2f964e7125719a1b
grid usf_init 1 grid/c0c145c123d9876b
grid usf_init 2 grid/23a27a4265f83957
grid usf_init 3 grid/694be35f9a7ae24d
grid usf_init 4 grid/3c5a15b1c932d142
grid usf_init 5 grid/53bb42f9cad11b56
grid usf_init 6 grid/13e50cee3fbd0aa3
grid usf_init 7 grid/96bb7e7e05254fe0
grid usf_init 8 grid/a1f4730ae22df6d4
grid usf_sn 0 grid/9874732cff556569
grid usf_sn 1 grid/5050f973fd2c0a90
grid usf_sn 2 grid/5c5d27e363356073
grid usf_sn 3 grid/92eebd35033071a8
train bp 0 train/c5b1d51e3f5b5da3
extract bp 0 extract/6f5f5a2526c2a0dd
saliency bp 0 saliency/f41dd4f27f775b67
train fa_random 0 train/7f047d1a285e1ae8
extract fa_random 0 extract/a4257dc9c98bb3ad
saliency fa_random 0 saliency/f352e3777a49ceb9
train fa_toeplitz 0 train/5854ae7b90e5533f
extract fa_toeplitz 0 extract/71eecfcf44ca15f7
saliency fa_toeplitz 0 saliency/0d2e83a79fd208d1
train usf_init 0 train/dfe908d564326b60
extract usf_init 0 extract/ac109d8ee7022815
saliency usf_init 0 saliency/16f2b50a97af4a0a
train usf_sn 0 train/4d301de45ee607cd
extract usf_sn 0 extract/8d473fb18fcf2880
saliency usf_sn 0 saliency/c1644ad2a4abbe0b
compare fa_random 0 compare/d11a4b351710788b
compare fa_toeplitz 0 compare/8ff3c2922a1b53e3
compare usf_init 0 compare/c74216728611480f
compare usf_sn 0 compare/97256dc7b45deb3a
`,
}
