package figures

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDumpFigures writes the fixture's figures, report.html and report.md
// to $FIGURES_OUT for a human to look at; it is skipped when unset.
func TestDumpFigures(t *testing.T) {
	dir := os.Getenv("FIGURES_OUT")
	if dir == "" {
		t.Skip("set FIGURES_OUT=dir to write the fixture's figures and report there")
	}
	r := fixtureReport()
	if os.Getenv("FIGURES_LONG") != "" {
		r.Histories = fixtureHistories(50, 352)
	}
	if err := BuildFigures(r, fixtureExemplars()); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "figures"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Figures {
		if err := os.WriteFile(filepath.Join(dir, "figures", f.Name+".png"), f.PNG, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), h, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), m, 0o644); err != nil {
		t.Fatal(err)
	}
}
