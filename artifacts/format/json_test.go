package format

import (
	"math"
	"strings"
	"testing"
)

type record struct {
	Rule  string             `json:"rule"`
	Acc   float64            `json:"acc"`
	Layer map[string]float64 `json:"layer"`
}

func TestMarshalJSONIsIndentedStableAndEndsInNewline(t *testing.T) {
	r := record{Rule: "fa<toeplitz>&", Acc: 0.5, Layer: map[string]float64{"fc1": 2, "conv2": 1, "conv1": 0.25}}
	// Expected text written by hand: fields in declaration order, map keys
	// sorted, two-space indent, no HTML escaping, trailing newline.
	want := `{
  "rule": "fa<toeplitz>&",
  "acc": 0.5,
  "layer": {
    "conv1": 0.25,
    "conv2": 1,
    "fc1": 2
  }
}
`
	for range 10 { // map iteration order varies between calls
		got, err := MarshalJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("MarshalJSON =\n%s\nwant\n%s", got, want)
		}
	}
}

func TestMarshalJSONRejectsNaN(t *testing.T) {
	if _, err := MarshalJSON(record{Acc: math.NaN()}); err == nil || !strings.Contains(err.Error(), "format.record") {
		t.Fatalf("MarshalJSON(NaN) = %v, want an error naming the type", err)
	}
}

func TestUnmarshalJSONIsStrict(t *testing.T) {
	var r record
	if err := UnmarshalJSON("results.json", []byte(`{"rule":"bp","acc":0.75,"layer":{"fc3":1}}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Rule != "bp" || r.Acc != 0.75 || len(r.Layer) != 1 || r.Layer["fc3"] != 1 {
		t.Fatalf("decoded %+v", r)
	}
	cases := []struct{ in, want string }{
		{`{"rule":"bp","typo":1}`, `unknown field "typo"`},
		{`{"rule":"bp"} {}`, "data after the JSON record"},
		{`{"rule":5}`, "cannot unmarshal number"},
	}
	for _, c := range cases {
		err := UnmarshalJSON("results.json", []byte(c.in), &record{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "results.json") {
			t.Errorf("UnmarshalJSON(%s) = %v, want an error naming results.json and saying %q", c.in, err, c.want)
		}
	}
}
