package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
)

func write(t *testing.T, dir, name string, r any) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckresultsExitsByWhatItFinds(t *testing.T) {
	dir := t.TempDir()
	hp := results.Hyperparameters{LR: 1e-3, Epochs: 50, BatchSize: 128}
	pub := results.Results{FormatVersion: results.FormatVersion, Rules: map[string]results.RuleResult{
		"bp": {Hyperparameters: hp, Seeds: []results.SeedResult{{Seed: 0, BestValAcc: 0.7536, TestAcc: 0.7193, BestEpoch: 33}, {Seed: 1, BestValAcc: 0.755}}},
	}}
	write(t, dir, "published/results.json", pub)
	mine := results.Results{FormatVersion: results.FormatVersion, Rules: map[string]results.RuleResult{
		"bp": {Hyperparameters: hp, Seeds: []results.SeedResult{{Seed: 0, BestValAcc: 0.7536, TestAcc: 0.7193, BestEpoch: 33}}},
	}}
	same := write(t, dir, "same.json", mine)
	mine.Rules["bp"].Seeds[0].TestAcc = 0.7194
	differs := write(t, dir, "differs.json", mine)
	empty := write(t, dir, "empty.json", results.Results{FormatVersion: results.FormatVersion})
	notResults := write(t, dir, "other.json", map[string]any{"stage": "train"})
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"same", []string{filepath.Join(dir, "published"), same}, 0, "all 2 checks match " + filepath.Join(dir, "published") + " bit for bit"},
		{"differs", []string{filepath.Join(dir, "published"), differs}, 1, "DIFFERS bp seed 0: TestAcc: published 0.7193, mine 0.7194"},
		{"nothing", []string{filepath.Join(dir, "published"), empty}, 1, "nothing to check: " + empty + " holds no results"},
		{"not results", []string{filepath.Join(dir, "published"), notResults}, 2, notResults + " is not a fabeam results.json"},
		{"missing", []string{filepath.Join(dir, "published"), filepath.Join(dir, "nowhere")}, 2, "give a results.json or the study folder that holds one"},
		{"usage", []string{same}, 2, "usage: checkresults PUBLISHED MINE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("exit %d, want %d; output:\n%s%s\nwant it to contain %q", code, tc.code, out.String(), errb.String(), tc.want)
			}
		})
	}
}
