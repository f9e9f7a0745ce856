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
// preset's dataset and grid keys are those of the published reproduction's
// cache; its final-run keys (and those downstream of them) changed once,
// when final runs began to record the learning signal
// (train.Config.SignalMetrics), which grid runs leave off.
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
train bp 0 train/03d5d563edf5c844
extract bp 0 extract/b502a49ac018372e
saliency bp 0 saliency/441607ae322d1229
train fa_random 0 train/e7d88ee189fe5b46
extract fa_random 0 extract/4f5ae1c46a89704a
saliency fa_random 0 saliency/e5d888774ce000dc
train fa_toeplitz 0 train/ff8dce6161435fc4
extract fa_toeplitz 0 extract/6b6fce9c3f25f706
saliency fa_toeplitz 0 saliency/142c02ab0ea16f11
train usf_init 0 train/a6e6c6ffc1a1b1a2
extract usf_init 0 extract/548ca86ab279fef8
saliency usf_init 0 saliency/214f78e7aa5fbf31
train usf_sn 0 train/b0a80d834229578c
extract usf_sn 0 extract/7a876d364aa6d10d
saliency usf_sn 0 saliency/0a628161164f8602
train usf 0 train/ebf6307ac8b05b6d
extract usf 0 extract/4a3b9487244b8300
saliency usf 0 saliency/0a2b45dc90b1cf9b
train frsf 0 train/2913adfc4da54694
extract frsf 0 extract/98fc673d7fb21b89
saliency frsf 0 saliency/2aa7297021638d74
train brsf 0 train/1739017ce6a6797b
extract brsf 0 extract/2b1aa671bb2cda49
saliency brsf 0 saliency/de8f8d2fa980e1a2
train dfa 0 train/413b23f62e9e3ca5
extract dfa 0 extract/5d80f857586f207a
saliency dfa 0 saliency/ebf5a5bee28aa5c8
compare fa_random 0 compare/876150ba08a211e4
compare fa_toeplitz 0 compare/f0fa099bfa0f10fd
compare usf_init 0 compare/0e1b41e6ed8de812
compare usf_sn 0 compare/961898bba30d795e
compare usf 0 compare/c13a65b26ea768ce
compare frsf 0 compare/dbc58104f10505b2
compare brsf 0 compare/6ade384ad3baa07e
compare dfa 0 compare/98abca6ea7970122
train bp 1 train/49f9dcc5dcf9727d
extract bp 1 extract/f4084ec28e87920e
saliency bp 1 saliency/d01f1c89d9bfb32c
train fa_random 1 train/b0f3baba84e982b6
extract fa_random 1 extract/cccd2e9f66fc94d2
saliency fa_random 1 saliency/558ba7011359eaf9
train fa_toeplitz 1 train/729faaa1373e697b
extract fa_toeplitz 1 extract/5163bbbbe3511e11
saliency fa_toeplitz 1 saliency/85ac5aa63cf1e05e
train usf_init 1 train/f22d0a66f072a2fb
extract usf_init 1 extract/53b770138ae0ceed
saliency usf_init 1 saliency/4b9a22cbea4d3520
train usf_sn 1 train/4f673a00f55b4f38
extract usf_sn 1 extract/494a29350c544ce4
saliency usf_sn 1 saliency/184edf0cfbd36644
train usf 1 train/4c3607890536df7e
extract usf 1 extract/7d168f0559d16323
saliency usf 1 saliency/b4f89c54efa9e7d1
train frsf 1 train/34811e88c6e67502
extract frsf 1 extract/fe3b02c1d1ec5846
saliency frsf 1 saliency/30b48062677d094c
train brsf 1 train/e56846c506088334
extract brsf 1 extract/c0ec9283aeccad92
saliency brsf 1 saliency/55046c3cc55a2d0a
train dfa 1 train/229f95a646f716b3
extract dfa 1 extract/bb78e3a5b85967ba
saliency dfa 1 saliency/5f148a9798470070
compare fa_random 1 compare/49432cf95d7f1c96
compare fa_toeplitz 1 compare/b1038187139d2e23
compare usf_init 1 compare/a05b178b6c2c1026
compare usf_sn 1 compare/9fcdedf4c2207d49
compare usf 1 compare/76ad8ce699fff2f1
compare frsf 1 compare/7044eb25e1776172
compare brsf 1 compare/edbd52e97f301183
compare dfa 1 compare/bcff4fdb8019066e
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
train bp 0 train/d0dee09a0cb07c1f
extract bp 0 extract/3e635538090ec02a
saliency bp 0 saliency/2d64bbfc98b4b6d8
train fa_random 0 train/cf5f2522f5911809
extract fa_random 0 extract/2641f4312c9f668a
saliency fa_random 0 saliency/4eeb19a1aed34562
train fa_toeplitz 0 train/6f694dd7476c6e65
extract fa_toeplitz 0 extract/7e4ee8fceab1d019
saliency fa_toeplitz 0 saliency/c7694d447eea5c32
train usf_init 0 train/3d8cc6f60a6ca77f
extract usf_init 0 extract/71b07d366584ac38
saliency usf_init 0 saliency/c5036024acbd9289
train usf_sn 0 train/573cb8196ad4b023
extract usf_sn 0 extract/7f345fe524771c7e
saliency usf_sn 0 saliency/1f40af531eb137b5
compare fa_random 0 compare/dafa921c1f20fcc9
compare fa_toeplitz 0 compare/351ec82932f5752a
compare usf_init 0 compare/3893803619497ddc
compare usf_sn 0 compare/01cfc5c17e5dec8d
`,
}
