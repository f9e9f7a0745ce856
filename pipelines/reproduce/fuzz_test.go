package main

import (
	"encoding/json"
	"flag"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/transforms"
)

// flagNames are the command's own flags; an error must name one of them,
// a Config field, or say what is wrong with the command line as a whole.
var flagNames = []string{"-out", "-preset", "-seeds", "-rules", "-epochs", "-data", "-verbose"}

// The command line's grammar, stated here independently of ParseFlags and
// Config.Validate.

// flagKinds are the command's own flags and the kind of value each takes.
var flagKinds = map[string]string{
	"out": "string", "preset": "string", "rules": "string", "data": "string",
	"seeds": "int", "epochs": "int", "verbose": "bool",
}

// validRules are the learning rules --rules may list.
var validRules = nn.RuleNames()

// presetEpochs are the presets and their epochs per final run.
var presetEpochs = map[string]int{"paper": 50, "quick": 10, "smoke": 2}

// kindOf returns the kind of value flag name takes: the command's own, or
// Beam's (from the type Beam registered it with), or "" if there is none.
func kindOf(name string) string {
	if k, ok := flagKinds[name]; ok {
		return k
	}
	f := flag.CommandLine.Lookup(name)
	if f == nil || strings.HasPrefix(name, "test.") {
		return ""
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "string" // a custom Value: any text reaches Beam
	}
	switch g.Get().(type) {
	case bool:
		return "bool"
	case int, int64:
		return "int"
	case uint, uint64:
		return "uint"
	case float64:
		return "float"
	case time.Duration:
		return "duration"
	}
	return "string"
}

// valueOK reports whether s is a value of kind k.
func valueOK(k, s string) bool {
	switch k {
	case "bool":
		return slices.Contains([]string{"1", "0", "t", "f", "T", "F", "true", "false", "TRUE", "FALSE", "True", "False"}, s)
	case "int":
		_, err := strconv.ParseInt(s, 0, 64)
		return err == nil
	case "uint":
		_, err := strconv.ParseUint(s, 0, 64)
		return err == nil
	case "float":
		_, err := strconv.ParseFloat(s, 64)
		return err == nil
	case "duration":
		_, err := time.ParseDuration(s)
		return err == nil
	}
	return true
}

// expected is what the grammar says a command line means.
type expected struct {
	valid   bool
	values  map[string]string // the command's own flags given (last wins)
	beam    []BeamSetting
	verbose bool
}

// grammar reads args by the command line's rules: each word is -name,
// --name, -name=value or --name=value; a flag that is not boolean takes the
// next word as its value when it has no "="; "--" ends the flags; any other
// word (including "" and "-") is not understood, so it is an error; so is
// an unknown name or a value of the wrong kind. Then: the preset is one of
// paper, quick, smoke; --out is non-empty, UTF-8 and not mem://; --data is
// not given under smoke and is otherwise non-empty UTF-8; a given --seeds
// is 1…1000 and a given --epochs at least 1; --rules, when not empty, is a
// comma-separated list (items trimmed of spaces) of distinct known rules.
func grammar(args []string) expected {
	e := expected{values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		s := args[i]
		if len(s) < 2 || s[0] != '-' {
			return e // a word that is not a flag
		}
		body := s[1:]
		if body[0] == '-' {
			if len(body) == 1 { // "--": the flags end; nothing may follow
				if i+1 < len(args) {
					return e
				}
				break
			}
			body = body[1:]
		}
		if body == "" || body[0] == '-' || body[0] == '=' {
			return e
		}
		name, value, hasValue := strings.Cut(body, "=")
		k := kindOf(name)
		if k == "" {
			return e
		}
		if k == "bool" && !hasValue {
			value = "true"
		} else if !hasValue {
			if i+1 >= len(args) {
				return e
			}
			i++
			value = args[i]
		}
		if !valueOK(k, value) {
			return e
		}
		if _, own := flagKinds[name]; own {
			e.values[name] = value
		} else {
			e.beam = append(e.beam, BeamSetting{name, value})
		}
	}
	get := func(name, def string) string {
		if v, ok := e.values[name]; ok {
			return v
		}
		return def
	}
	preset := get("preset", "paper")
	if _, ok := presetEpochs[preset]; !ok {
		return e
	}
	out := get("out", "./out")
	if out == "" || !utf8.ValidString(out) || strings.HasPrefix(out, "mem://") {
		return e
	}
	if _, given := e.values["data"]; given && preset == "smoke" {
		return e
	}
	if data := get("data", "./data/cifar-10-batches-bin"); preset != "smoke" && (data == "" || !utf8.ValidString(data)) {
		return e
	}
	for name, hi := range map[string]int64{"seeds": 1000, "epochs": 1 << 62} {
		if v, given := e.values[name]; given {
			if n, _ := strconv.ParseInt(v, 0, 64); n < 1 || n > hi {
				return e
			}
		}
	}
	if r := get("rules", ""); r != "" {
		seen := map[string]bool{}
		for _, item := range strings.Split(r, ",") {
			item = strings.TrimSpace(item)
			if !slices.Contains(validRules, item) || seen[item] {
				return e
			}
			seen[item] = true
		}
	}
	e.verbose = slices.Contains([]string{"1", "t", "T", "true", "TRUE", "True"}, get("verbose", "false"))
	e.valid = true
	return e
}

// FuzzParseFlags feeds arbitrary command lines (arguments separated by
// newlines) to ParseFlags, the command's only parser. Whatever the input it
// must not panic, must give the same answer twice, and must accept exactly
// the command lines the grammar above calls valid, meaning what the grammar
// says (the preset, --out, the epochs, the number of seeds, the rules,
// --verbose and the Beam flags handed on). Moreover:
//   - an accepted configuration is valid UTF-8 everywhere and survives the
//     JSON round trip that carries it to every DoFn unchanged (a --out that
//     JSON silently rewrote would send the workers to another folder);
//   - a rejected one gets an error naming the flag, the Config field, or
//     the word at fault.
//
// The seed corpus (testdata/fuzz/FuzzParseFlags, replayed by go test) holds
// each preset, every override, Beam flags, and one of each kind of mistake.
func FuzzParseFlags(f *testing.F) {
	f.Add("--preset=smoke\n--out=/tmp/x")
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\n")
		}
		cmd, err := ParseFlags(args)
		cmd2, err2 := ParseFlags(args)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("two parses disagree: %v vs %v", err, err2)
		}
		want := grammar(args)
		if want.valid != (err == nil) {
			t.Fatalf("ParseFlags(%q): error %v, but the grammar says valid = %v", args, err, want.valid)
		}
		if err != nil {
			msg := err.Error()
			named := strings.HasPrefix(msg, "config ") || strings.Contains(msg, "flag") || strings.Contains(msg, "argument")
			for _, n := range flagNames {
				named = named || strings.Contains(msg, n)
			}
			if !named {
				t.Fatalf("error %q names no flag, field or argument", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("error %q is not one line", msg)
			}
			return
		}
		if !reflect.DeepEqual(cmd, cmd2) {
			t.Fatalf("two parses gave different results:\n%+v\n%+v", cmd, cmd2)
		}
		c := cmd.Config
		get := func(name, def string) string {
			if v, ok := want.values[name]; ok {
				return v
			}
			return def
		}
		wantEpochs := presetEpochs[get("preset", "paper")]
		if v, ok := want.values["epochs"]; ok {
			n, _ := strconv.ParseInt(v, 0, 64)
			wantEpochs = int(n)
		}
		wantSeeds := 1
		if v, ok := want.values["seeds"]; ok {
			n, _ := strconv.ParseInt(v, 0, 64)
			wantSeeds = int(n)
		}
		// The paper and quick presets run the paper's rules, smoke every rule.
		wantRules := transforms.PaperRules()
		if get("preset", "paper") == "smoke" {
			wantRules = validRules
		}
		if r := get("rules", ""); r != "" {
			wantRules = nil
			for _, item := range strings.Split(r, ",") {
				wantRules = append(wantRules, strings.TrimSpace(item))
			}
		}
		if c.Preset != get("preset", "paper") || c.Out != get("out", "./out") || c.Epochs != wantEpochs ||
			len(c.Seeds) != wantSeeds || !reflect.DeepEqual(c.Rules, wantRules) {
			t.Fatalf("ParseFlags(%q) = preset %q out %q epochs %d seeds %v rules %v; the grammar says %q %q %d, %d seeds, %v",
				args, c.Preset, c.Out, c.Epochs, c.Seeds, c.Rules, get("preset", "paper"), get("out", "./out"), wantEpochs, wantSeeds, wantRules)
		}
		if cmd.Verbose != want.verbose || !slices.Equal(cmd.Beam, want.beam) {
			t.Fatalf("ParseFlags(%q): verbose %v, Beam flags %v; the grammar says %v, %v", args, cmd.Verbose, cmd.Beam, want.verbose, want.beam)
		}
		for _, s := range append([]string{c.Out, c.Data, c.Preset}, c.Rules...) {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted a setting that is not UTF-8: %q", s)
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("accepted configuration does not encode: %v", err)
		}
		var back transforms.Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("accepted configuration does not decode: %v", err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("JSON round trip changed the configuration:\n got %+v\nwant %+v", back, c)
		}
	})
}
