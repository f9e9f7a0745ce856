package transforms

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress tracks the study's training epochs in this process, for the
// pipeline ETA in the per-epoch log line and the terminal progress bar, and
// owns the console those lines go to. On a distributed runner each worker
// sees only its own share, so the ETA there is per worker.
var progress = &tracker{w: os.Stderr}

type tracker struct {
	mu      sync.Mutex
	start   time.Time
	total   int // epochs in the whole study
	skipped int // epochs found done (skipped or resumed)
	trained int // epochs trained in this process

	w     io.Writer // the console
	bar   bool      // draw the live progress bar on w
	shown bool      // the bar is on w's last line
}

// SetConsole sets where ConsoleLine writes (os.Stderr until set) and
// whether a live progress bar (epochs done, total, ETA) is kept on its last
// line. Give bar only for a terminal: the bar is redrawn in place with a
// carriage return and an erase-line escape.
func SetConsole(w io.Writer, bar bool) {
	progress.mu.Lock()
	defer progress.mu.Unlock()
	progress.w, progress.bar, progress.shown = w, bar, false
}

// ConsoleLine writes one line to the console, above the progress bar.
func ConsoleLine(line string) {
	t := progress
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	fmt.Fprintln(t.w, line)
	t.drawLocked()
}

// StartProgress announces the study's epoch count, so the progress bar
// shows from the start.
func StartProgress(totalEpochs int) {
	progress.setTotal(totalEpochs)
	progress.mu.Lock()
	defer progress.mu.Unlock()
	progress.drawLocked()
}

// EndProgress removes the progress bar for good (before the final summary
// or an error).
func EndProgress() {
	t := progress
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	t.bar = false
}

// setTotal records the study's epoch count (idempotent).
func (t *tracker) setTotal(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.start.IsZero() {
		t.start = time.Now()
	}
	if n > t.total {
		t.total = n
	}
}

// skip counts n epochs that needed no training.
func (t *tracker) skip(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.skipped += n
	t.clearLocked()
	t.drawLocked()
}

// epoch counts one trained epoch and returns the pipeline's ETA.
func (t *tracker) epoch() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trained++
	return t.etaLocked()
}

// etaLocked is the time the epochs left will take at the pace of those
// trained so far.
func (t *tracker) etaLocked() string {
	left := t.total - t.trained - t.skipped
	if left <= 0 || t.trained == 0 {
		return "0s"
	}
	per := time.Since(t.start) / time.Duration(t.trained)
	return (per * time.Duration(left)).Round(time.Second).String()
}

// clearLocked erases the bar from the console's last line.
func (t *tracker) clearLocked() {
	if t.shown {
		fmt.Fprint(t.w, "\r\033[K")
		t.shown = false
	}
}

// drawLocked draws the progress bar on the console's last line, without a
// newline, when the bar is on and the study's size is known.
func (t *tracker) drawLocked() {
	if !t.bar || t.total == 0 {
		return
	}
	done := min(t.trained+t.skipped, t.total)
	const width = 30
	n := done * width / t.total
	eta := "ETA …"
	if t.trained > 0 {
		eta = "ETA " + t.etaLocked()
	}
	fmt.Fprintf(t.w, "\r\033[K[%s%s] %d/%d epochs, %s", strings.Repeat("#", n), strings.Repeat(".", width-n), done, t.total, eta)
	t.shown = true
}
