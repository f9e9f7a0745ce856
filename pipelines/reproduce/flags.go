package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/transforms"
)

// ownFlags are the command's own flags, in the order --help lists them.
var ownFlags = []string{"preset", "out", "data", "rules", "seeds", "epochs", "verbose"}

// listFlags take a comma-separated list as one word.
var listFlags = []string{"rules"}

// flagError rewrites an error of fs.Parse as one line saying what to do:
// an unknown flag gets the closest known one (the command's or Beam's),
// offered as "did you mean" when it is within a typo's reach (an edit
// distance of at most 2, or a third of the name's length).
func flagError(fs *flag.FlagSet, err error) error {
	const unknown = "flag provided but not defined: -"
	msg := err.Error()
	if !strings.HasPrefix(msg, unknown) {
		return fmt.Errorf("%s; run with --help for the flags", strings.Replace(msg, "flag -", "flag --", 1))
	}
	name := strings.TrimPrefix(msg, unknown)
	best, d := closestFlag(fs, name)
	if d > max(2, len([]rune(name))/3) { // too far to be a typo of it
		return fmt.Errorf("unknown flag --%s: no flag of the command or of Beam is close (the closest is --%s); run with --help for every flag", name, best)
	}
	return fmt.Errorf("unknown flag --%s: did you mean --%s? (run with --help for every flag)", name, best)
}

// closestFlag returns the flag of fs whose name is nearest to name in edit
// distance (case-insensitive); ties go to the command's own flags, then to
// the alphabetically first.
func closestFlag(fs *flag.FlagSet, name string) (string, int) {
	best, bestD := "", -1
	consider := func(n string) {
		if d := editDistance(strings.ToLower(name), strings.ToLower(n)); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	for _, n := range ownFlags {
		consider(n)
	}
	var others []string
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(ownFlags, f.Name) {
			others = append(others, f.Name)
		}
	})
	sort.Strings(others)
	for _, n := range others {
		consider(n)
	}
	return best, bestD
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// positionalError explains the first word of args that is not a flag
// (rest, what the flag package left over) and suggests the flag meant.
func positionalError(args, rest []string) error {
	word := rest[0]
	i := len(args) - len(rest) // word's index in args
	if i > 0 && args[i-1] == "--" {
		return fmt.Errorf("unexpected argument %q after --: every setting is a flag (--out=DIR, --preset=NAME, …); run with --help for the flags", word)
	}
	// Words after a list flag's value: "--rules bp usf_sn" meant one list.
	if name, val, ok := listFlagBefore(args, i); ok {
		var list []string
		for _, w := range append([]string{val}, rest...) {
			if w != val && strings.HasPrefix(w, "-") {
				break
			}
			for _, item := range strings.Split(w, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
		}
		return fmt.Errorf("unexpected argument %q after --%s %s: did you mean --%s=%s? (a list is one comma-separated word, without spaces)",
			word, name, val, name, strings.Join(list, ","))
	}
	hint := "every setting is a flag (--out=DIR, --preset=NAME, …)"
	switch name, _, hasEq := strings.Cut(word, "="); {
	case slices.Contains(transforms.Presets, word):
		hint = fmt.Sprintf("did you mean --preset=%s?", word)
	case slices.Contains(nn.RuleNames(), word):
		hint = fmt.Sprintf("did you mean --rules=%s?", word)
	case hasEq && flag.CommandLine.Lookup(name) != nil || hasEq && slices.Contains(ownFlags, name):
		hint = fmt.Sprintf("did you mean --%s?", word)
	}
	return fmt.Errorf("unexpected argument %q: %s (run with --help for the flags)", word, hint)
}

// listFlagBefore reports whether the word at args[i] follows the value of a
// list flag, given as "--rules=v" or "--rules v", and returns the flag and v.
func listFlagBefore(args []string, i int) (name, val string, ok bool) {
	trim := func(s string) string { return strings.TrimLeft(s, "-") }
	if i >= 1 && strings.HasPrefix(args[i-1], "-") {
		if n, v, eq := strings.Cut(trim(args[i-1]), "="); eq && slices.Contains(listFlags, n) {
			return n, v, true
		}
	}
	if i >= 2 && strings.HasPrefix(args[i-2], "-") && !strings.HasPrefix(args[i-1], "-") {
		if n := trim(args[i-2]); slices.Contains(listFlags, n) {
			return n, args[i-1], true
		}
	}
	return "", "", false
}

// usage writes --help: the command's flags, then Beam's.
func usage(w io.Writer) {
	var o options
	var beam []BeamSetting
	fs := newFlagSet(&o, &beam)
	fmt.Fprintln(w, "Usage: reproduce [flags]   (every setting is a flag; lists are comma-separated)")
	fmt.Fprintln(w, "\nThe study's flags:")
	for _, n := range ownFlags {
		f := fs.Lookup(n)
		def := ""
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%-8s %s%s\n", n, f.Usage, def)
	}
	fmt.Fprintln(w, "\nBeam's flags (--runner=direct|prism|dataflow|vet and the runners' options):")
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(ownFlags, f.Name) {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, n := range names {
		u := strings.SplitN(fs.Lookup(n).Usage, "\n", 2)[0]
		fmt.Fprintf(w, "  --%s  %s\n", n, u)
	}
}
