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

// pinnedStageKeys are presetStageKeys at FormatVersion 2. The paper
// preset's keys are those of the published reproduction's cache.
var pinnedStageKeys = map[string]string{
	"smoke": `
dataset dataset/a744deb982b49cad
grid bp 0 grid/d03c29fbbe20f507
grid bp 1 grid/417b87c3afe96954
grid fa_random 0 grid/3041f1749d048f0b
grid fa_random 1 grid/bf435c9f9beb3b11
grid fa_toeplitz 0 grid/6347d0e98da20a67
grid fa_toeplitz 1 grid/e4ea414349958d69
grid usf_init 0 grid/6adafec8b9bf1657
grid usf_init 1 grid/ee1876fe234556c2
grid usf_sn 0 grid/5ea190045de2e6cf
grid usf_sn 1 grid/60cdc479fca51024
grid usf 0 grid/1198e1826c911069
grid usf 1 grid/b57317ed55c9b49c
grid frsf 0 grid/c497728b7f839e5e
grid frsf 1 grid/4a5816b1331dda9a
grid brsf 0 grid/99d4cb5025366040
grid brsf 1 grid/1ef62fe67c7c48bf
grid dfa 0 grid/688829c7eb78fa97
grid dfa 1 grid/2c73762081308e7a
train bp 0 train/5369aab0af49d47b
extract bp 0 extract/6c2ca80906a83a6b
saliency bp 0 saliency/7e9e117b5979cabd
train fa_random 0 train/9348e0ef799e9158
extract fa_random 0 extract/697275088c6ea5fe
saliency fa_random 0 saliency/0e0222e861e5961b
train fa_toeplitz 0 train/3b10be7ed037bbfb
extract fa_toeplitz 0 extract/58374f8d35cdd38d
saliency fa_toeplitz 0 saliency/3f7ad8b3c05884e0
train usf_init 0 train/f79ded038906aae8
extract usf_init 0 extract/e332368f9056bf96
saliency usf_init 0 saliency/0a69f78ca74a7fb3
train usf_sn 0 train/784dccda20c9887e
extract usf_sn 0 extract/a605cde8e35c199d
saliency usf_sn 0 saliency/726f7ba25ae3a179
train usf 0 train/28312267f05e02ed
extract usf 0 extract/63816140a5183902
saliency usf 0 saliency/8ec4b7c026d842ae
train frsf 0 train/42499b8757cbb7af
extract frsf 0 extract/76bce4d1179ebc41
saliency frsf 0 saliency/522fbd40235dfbe8
train brsf 0 train/53cb2f4816da0f38
extract brsf 0 extract/2a6bb1617916b883
saliency brsf 0 saliency/72394ef505ef3761
train dfa 0 train/0d051d4fcc70bf09
extract dfa 0 extract/553d0eead92e3cfa
saliency dfa 0 saliency/17aba24364aab4dc
compare fa_random 0 compare/07ef538cef190509
compare fa_toeplitz 0 compare/578cfbf784805b25
compare usf_init 0 compare/69cd417e5e87e36e
compare usf_sn 0 compare/76c64d1dcd66714f
compare usf 0 compare/93dc7f32b8ecb6f0
compare frsf 0 compare/b52b63e50b99b846
compare brsf 0 compare/e2781c65c0297228
compare dfa 0 compare/8408826f754ead9f
train bp 1 train/f0bf724020f08754
extract bp 1 extract/9e397ea9e9a0981c
saliency bp 1 saliency/eae257516c13b842
train fa_random 1 train/f590efe09ecb4d73
extract fa_random 1 extract/efb681e0f67199a1
saliency fa_random 1 saliency/ef39673aad240afc
train fa_toeplitz 1 train/aab375adb8b72e92
extract fa_toeplitz 1 extract/c76488974fddbeb6
saliency fa_toeplitz 1 saliency/8c3c00ff6465efc7
train usf_init 1 train/a806af0eeb55b88b
extract usf_init 1 extract/2893af43f808c928
saliency usf_init 1 saliency/541cd8670ca440d4
train usf_sn 1 train/7ad48d0929e207e5
extract usf_sn 1 extract/85239000c5b2d125
saliency usf_sn 1 saliency/9b4ad3b2d6de3115
train usf 1 train/b5b8064e3c253992
extract usf 1 extract/dd1c7aa41175c4ed
saliency usf 1 saliency/376790c5c6d18d66
train frsf 1 train/4db09215e57e8c7f
extract frsf 1 extract/f5e6567b797fcfdb
saliency frsf 1 saliency/27aacf3e5363d842
train brsf 1 train/58680f1fcbb2b3df
extract brsf 1 extract/f82e131b353e16d7
saliency brsf 1 saliency/5024befd8532b05d
train dfa 1 train/3a2c02102bfd9e31
extract dfa 1 extract/027756c14245f1aa
saliency dfa 1 saliency/1df45d4663e8091f
compare fa_random 1 compare/054367ab566c8f1b
compare fa_toeplitz 1 compare/b69a8f7262f39378
compare usf_init 1 compare/738c0d76f428736e
compare usf_sn 1 compare/86ed52f2b39e89c1
compare usf 1 compare/d28e2b23140f9fcc
compare frsf 1 compare/07f2780acf4fcb74
compare brsf 1 compare/21180d3c7ee21645
compare dfa 1 compare/e541d9f0036b5813
`,
	"paper": `
dataset dataset/ae51e88543a92532
grid bp 0 grid/4f3178b62715ddc5
grid bp 1 grid/ec3ed5747c5ff208
grid bp 2 grid/dda11dc983dde92e
grid bp 3 grid/4daa31a1ab705442
grid bp 4 grid/433c1cb527c2b627
grid bp 5 grid/9877d05a846eb52f
grid fa_random 0 grid/71b638c0c9635ed5
grid fa_random 1 grid/d4b9c22155d030c9
grid fa_random 2 grid/70fc1f6897f7b55e
grid fa_random 3 grid/1399715d546177f9
grid fa_random 4 grid/87cb9894a79f7af0
grid fa_random 5 grid/3add9b0d622a7779
grid fa_random 6 grid/d9ff6c7705b0bd34
grid fa_random 7 grid/16a89f75bbb75099
grid fa_random 8 grid/2e448f609aded16d
grid fa_toeplitz 0 grid/42fefd5c8f70ff91
grid fa_toeplitz 1 grid/1b5be48c7db336f8
grid fa_toeplitz 2 grid/971f78c6e30c2973
grid fa_toeplitz 3 grid/346ddb606dd42a7a
grid fa_toeplitz 4 grid/f9e7b902cc002a71
grid fa_toeplitz 5 grid/15986ba6428e0561
grid fa_toeplitz 6 grid/c3802c05a2b2c3c4
grid fa_toeplitz 7 grid/e5f80c149ecc5780
grid fa_toeplitz 8 grid/d6867b01a210e3e5
grid usf_init 0 grid/e6f0306103d148a9
grid usf_init 1 grid/5c93f8f6fbba4860
grid usf_init 2 grid/aec0613c4c8903a5
grid usf_init 3 grid/dbeae85746cd050b
grid usf_init 4 grid/532e94a765abc52c
grid usf_init 5 grid/31e0539ad37099b0
grid usf_init 6 grid/080c48f4fe5d9a21
grid usf_init 7 grid/cad8f12cb8cc62d8
grid usf_init 8 grid/5c0f7e98ca313088
grid usf_sn 0 grid/efe7258662138274
grid usf_sn 1 grid/74cdaa161b19fe9f
grid usf_sn 2 grid/a418bde2f83d94c8
grid usf_sn 3 grid/c8ad6ce60814ef7b
train bp 0 train/9b30a60646ec4fce
extract bp 0 extract/d7fb67d6751b7271
saliency bp 0 saliency/11951ebeee494b87
train fa_random 0 train/d6555c0393f60efa
extract fa_random 0 extract/a6e18d9a228bd0f1
saliency fa_random 0 saliency/c8a0845cad079ab4
train fa_toeplitz 0 train/84dfa4045a0b5f84
extract fa_toeplitz 0 extract/f4a8441bf7331ea3
saliency fa_toeplitz 0 saliency/b6739eee7f589556
train usf_init 0 train/26c3ee027a8e01ea
extract usf_init 0 extract/3013321ecc888dfd
saliency usf_init 0 saliency/0b270a1a74377795
train usf_sn 0 train/9e5d42bfc035dff6
extract usf_sn 0 extract/aa451d82687780d1
saliency usf_sn 0 saliency/1d2a642409ece57e
compare fa_random 0 compare/c1d8ca8d5b5b8c59
compare fa_toeplitz 0 compare/153c863f2e6dd0e5
compare usf_init 0 compare/0bd7d07d51b5642a
compare usf_sn 0 compare/85bd9e241a46b71f
`,
}
