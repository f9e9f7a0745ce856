package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/engine/nn"
)

func TestFlagsOverrideThePresetAndAreValidated(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		preset, rules         string
		seeds, epochs         int
		wantErr               []string // substrings of the error; nil means valid
		wantSeeds, wantEpochs int
		wantRules             string
	}{
		{name: "paper defaults", preset: "paper", wantSeeds: 1, wantEpochs: 50, wantRules: "bp,fa_random,fa_toeplitz,usf_init,usf_sn"},
		{name: "quick with overrides", preset: "quick", rules: "usf_sn, bp", seeds: 3, epochs: 4, wantSeeds: 3, wantEpochs: 4, wantRules: "bp,usf_sn"},
		{name: "smoke", preset: "smoke", wantSeeds: 1, wantEpochs: 2, wantRules: strings.Join(nn.RuleNames(), ",")},
		{name: "unknown preset", preset: "fast", wantErr: []string{"--preset", "paper, quick, smoke"}},
		{name: "unknown rule", preset: "quick", rules: "bp,nope", wantErr: []string{"--rules", "nope", strings.Join(nn.RuleNames(), ",")}},
		{name: "negative seeds", preset: "quick", seeds: -1, wantErr: []string{"--seeds=-1"}},
		{name: "negative epochs", preset: "quick", epochs: -2, wantErr: []string{"--epochs=-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A zero count means the flag is left out (an explicit 0 is an
			// error, checked in TestBadInput).
			args := []string{"--preset=" + tc.preset, "--rules=" + tc.rules, "--out=" + t.TempDir()}
			if tc.preset != "smoke" {
				args = append(args, "--data=data") // smoke reads no data: --data is an error there
			}
			if tc.seeds != 0 {
				args = append(args, "--seeds="+strconv.Itoa(tc.seeds))
			}
			if tc.epochs != 0 {
				args = append(args, "--epochs="+strconv.Itoa(tc.epochs))
			}
			cmd, err := ParseFlags(args)
			c := cmd.Config
			if tc.wantErr != nil {
				if err == nil {
					t.Fatal("config accepted it")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Seeds) != tc.wantSeeds || c.Epochs != tc.wantEpochs || strings.Join(c.OrderedRules(), ",") != tc.wantRules {
				t.Errorf("seeds %v epochs %d rules %v, want %d seeds, %d epochs, %s", c.Seeds, c.Epochs, c.OrderedRules(), tc.wantSeeds, tc.wantEpochs, tc.wantRules)
			}
			for i, s := range c.Seeds {
				if s != i {
					t.Errorf("seeds %v, want 0..N-1", c.Seeds)
				}
			}
		})
	}
}
