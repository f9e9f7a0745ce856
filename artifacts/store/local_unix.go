//go:build unix

package store

import "syscall"

// errNotDir is the error for a path through a regular file ("a" is a file,
// "a/b" is asked for): the object does not exist.
var errNotDir error = syscall.ENOTDIR
