package transforms

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// progress tracks the study's training epochs in this process, for the
// pipeline ETA in the per-epoch log line and the terminal progress bar. On a
// distributed runner each worker sees only its own share, so the ETA there
// is per worker.
var progress = &tracker{}

type tracker struct {
	mu      sync.Mutex
	start   time.Time
	total   int // epochs in the whole study
	skipped int // epochs found done (skipped or resumed)
	trained int // epochs trained in this process
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
	t.drawLocked()
}

// epoch counts one trained epoch and returns the pipeline's ETA.
func (t *tracker) epoch() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trained++
	defer t.drawLocked()
	left := t.total - t.trained - t.skipped
	if left <= 0 || t.trained == 0 {
		return "0s"
	}
	per := time.Since(t.start) / time.Duration(t.trained)
	return (per * time.Duration(left)).Round(time.Second).String()
}

var stderrIsTerminal = func() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}()

// drawLocked redraws the progress bar on stderr when it is a terminal.
func (t *tracker) drawLocked() {
	if !stderrIsTerminal || t.total == 0 {
		return
	}
	done := min(t.trained+t.skipped, t.total)
	const width = 30
	n := done * width / t.total
	fmt.Fprintf(os.Stderr, "\r\033[K[%s%s] %d/%d epochs\n", strings.Repeat("#", n), strings.Repeat(".", width-n), done, t.total)
}
