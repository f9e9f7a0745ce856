//go:build !unix

package store

import "errors"

// errNotDir never matches outside unix, where the standard library maps
// the condition to fs.ErrNotExist.
var errNotDir = errors.New("store: not a directory")
