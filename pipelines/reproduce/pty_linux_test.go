package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair through /dev/ptmx (no cgo): the
// master, and the terminal a child process gets.
func openPTY() (master, terminal *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("numbering the pty: %w", err)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, terminal, nil
}

// TestProgressBarOnATerminal runs the command on the smoke preset (bp only,
// a 2-point grid of 1 epoch and 2 final epochs: 4 epochs in all) with its
// stdin, stdout and stderr on a pseudo-terminal, and reads what a person
// would see: a bar redrawn in place ("\r", erase line) counting epochs up
// to 4/4 with an ETA, log lines printed above it, and no bar left behind
// before Table 1. Skipped where /dev/ptmx cannot be opened.
func TestProgressBarOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command: skipped with -short")
	}
	master, terminal, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer master.Close()
	if !isTerminal(terminal) {
		t.Fatal("isTerminal is false on a pseudo-terminal")
	}
	if isTerminal(os.Stderr) && os.Getenv("CI") != "" {
		t.Log("note: the test's own stderr is a terminal")
	}
	out := filepath.Join(t.TempDir(), "study")
	cmd := command("--runner=direct", "--preset=smoke", "--rules=bp", "--out="+out)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = terminal, terminal, terminal
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	terminal.Close()
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&screen, master) // ends with EIO once the child has exited
		close(read)
	}()
	werr := cmd.Wait()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not close after the command exited")
	}
	s := screen.String()
	if werr != nil {
		t.Fatalf("the command failed: %v\n%s", werr, tail(s))
	}
	bar := regexp.MustCompile(`\r\x1b\[K\[[#.]{30}\] (\d)/4 epochs, ETA [^\r\n]*`)
	seen := map[string]bool{}
	for _, m := range bar.FindAllStringSubmatch(s, -1) {
		seen[m[1]] = true
	}
	for _, n := range []string{"0", "1", "2", "3", "4"} {
		if !seen[n] {
			t.Errorf("no bar showing %s/4 epochs on the terminal:\n%q", n, tail(s))
		}
	}
	if !regexp.MustCompile(`\] [1-4]/4 epochs, ETA \d+(\.\d+)?(ms|s|m)`).MatchString(s) {
		t.Errorf("no bar with an ETA after an epoch:\n%q", tail(s))
	}
	// A log line printed while the bar shows first erases it, so each
	// epoch line starts a line of its own.
	if !regexp.MustCompile(`\r\x1b\[K\d\d:\d\d:\d\d train bp +seed 0 epoch 2/2`).MatchString(s) {
		t.Errorf("the epoch line does not replace the bar:\n%q", tail(s))
	}
	table := strings.Index(s, "Table 1")
	if table < 0 {
		t.Fatalf("no Table 1 on the terminal:\n%q", tail(s))
	}
	if strings.Contains(s[table:], "epochs, ETA") {
		t.Errorf("a progress bar is drawn after the run ended:\n%q", s[table:])
	}
}
