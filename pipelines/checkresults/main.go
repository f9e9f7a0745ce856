// Command checkresults checks a study against a published one: for every
// result the study holds (each final run, grid point, CKA matrix and
// saliency result, and the summaries over seeds where it ran the same
// seeds), whether its numbers are the published ones bit for bit.
//
//	go run ./pipelines/checkresults PUBLISHED MINE
//
// PUBLISHED and MINE are results.json files, or study folders holding one
// (a gs:// study: copy its results.json first). MINE may hold fewer rules
// and seeds than PUBLISHED: a study of one rule and seed checks that rule
// and seed, since fabeam's results for one rule and seed do not depend on
// what else ran. The cheapest check of the published reproduction trains
// bp for seed 0 (its six grid points, then 50 epochs):
//
//	go run ./pipelines/reproduce --runner=direct --rules=bp --seeds=1 --data=<CIFAR-10> --out=./out/check
//	go run ./pipelines/checkresults reproduction/paper-3seeds ./out/check
//
// It prints one line per check and a last line counting them, and exits
// 0 when every check matches, 1 when one does not (or MINE holds nothing
// to check), 2 on bad arguments or an unreadable file.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fabeam/fabeam/artifacts/results"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: checkresults PUBLISHED MINE (each a results.json or a study folder holding one)")
		return 2
	}
	var res [2]results.Results
	for i, p := range args {
		r, err := load(p)
		if err != nil {
			fmt.Fprintln(stderr, "checkresults:", err)
			return 2
		}
		res[i] = r
	}
	checks := results.Compare(res[0], res[1])
	same := 0
	for _, c := range checks {
		mark := "same   "
		if c.Same {
			same++
		} else {
			mark = "DIFFERS"
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", mark, c.What, c.Detail)
	}
	switch {
	case len(checks) == 0:
		fmt.Fprintf(stdout, "nothing to check: %s holds no results\n", args[1])
		return 1
	case same < len(checks):
		fmt.Fprintf(stdout, "%d of %d checks differ from %s\n", len(checks)-same, len(checks), args[0])
		return 1
	}
	fmt.Fprintf(stdout, "all %d checks match %s bit for bit\n", len(checks), args[0])
	return 0
}

// load reads a results.json, given as the file or as the study folder
// holding it, and refuses anything that is not one.
func load(path string) (results.Results, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "results.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return results.Results{}, fmt.Errorf("%w (give a results.json or the study folder that holds one)", err)
	}
	var r results.Results
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return results.Results{}, fmt.Errorf("%s is not a fabeam results.json: %v", path, err)
	}
	if r.FormatVersion == 0 {
		return results.Results{}, fmt.Errorf("%s is not a fabeam results.json: it has no format_version", path)
	}
	return r, nil
}
