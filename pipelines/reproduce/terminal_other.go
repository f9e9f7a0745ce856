//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

func termios(int) bool { return false }
