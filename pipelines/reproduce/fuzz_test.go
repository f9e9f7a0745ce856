package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fabeam/fabeam/transforms"
)

// flagNames are the command's own flags; an error must name one of them,
// a Config field, or say what is wrong with the command line as a whole.
var flagNames = []string{"-out", "-preset", "-seeds", "-rules", "-epochs", "-data"}

// FuzzParseFlags feeds arbitrary command lines (arguments separated by
// newlines) to ParseFlags. Whatever the input it must not panic, must give
// the same answer twice, and:
//   - an accepted configuration validates, is valid UTF-8 everywhere, and
//     survives the JSON round trip that carries it to every DoFn unchanged
//     (a --out that JSON silently rewrote would send the workers to
//     another folder);
//   - a rejected one gets an error naming the flag, the Config field, or
//     the flag syntax at fault.
//
// The seed corpus (testdata/fuzz/FuzzParseFlags, replayed by go test) holds
// each preset, every override, and one of each kind of mistake.
func FuzzParseFlags(f *testing.F) {
	f.Add("--preset=smoke\n--out=/tmp/x")
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\n")
		}
		c, err := ParseFlags(args)
		c2, err2 := ParseFlags(args)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("two parses disagree: %v vs %v", err, err2)
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
			return
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("two parses gave different configurations:\n%+v\n%+v", c, c2)
		}
		if verr := c.Validate(); verr != nil {
			t.Fatalf("accepted a configuration that does not validate: %v", verr)
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
