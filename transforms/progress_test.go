package transforms

import (
	"bytes"
	"strings"
	"testing"
)

// TestProgressBarStaysBelowTheLogLines: on a console with the bar on, a
// log line first erases the bar, then the bar is redrawn under it with the
// epochs counted so far; EndProgress erases it for good. With the bar off
// the console gets the lines alone.
func TestProgressBarStaysBelowTheLogLines(t *testing.T) {
	saved := progress
	defer func() { progress = saved }()
	var b bytes.Buffer
	progress = &tracker{}
	SetConsole(&b, true)
	StartProgress(4)
	progress.skip(1)
	ConsoleLine("one")
	progress.epoch()
	ConsoleLine("two")
	EndProgress()
	ConsoleLine("after")
	const clear = "\r\033[K"
	bar := func(n int, eta string) string {
		return clear + "[" + strings.Repeat("#", n*30/4) + strings.Repeat(".", 30-n*30/4) + "] " + string(rune('0'+n)) + "/4 epochs, " + eta
	}
	want := bar(0, "ETA …") + clear + bar(1, "ETA …") + clear + "one\n" + bar(1, "ETA …") + clear + "two\n"
	got := b.String()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("console:\n got %q\nwant %q…", got, want)
	}
	rest := got[len(want):]
	if !strings.HasPrefix(rest, bar(2, "ETA ")) || !strings.HasSuffix(rest, clear+"after\n") || strings.Count(rest, "epochs") != 1 {
		t.Errorf("after the second line: %q, want the 2/4 bar with an ETA, erased, then the line alone", rest)
	}

	b.Reset()
	progress = &tracker{}
	SetConsole(&b, false)
	StartProgress(4)
	progress.epoch()
	ConsoleLine("plain")
	if b.String() != "plain\n" {
		t.Errorf("without the bar the console got %q", b.String())
	}
}
