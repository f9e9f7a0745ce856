package main

import "os"

// isTerminal reports whether f is a terminal (checked with the termios
// ioctl, no cgo); false where the platform has no such check.
func isTerminal(f *os.File) bool { return termios(int(f.Fd())) }
