// Package storetest provides stores that fail on purpose, for tests that a
// failed run damages nothing and that the next run recovers.
//
// Faulty wraps any store.Store and fails its N-th write (a Put, or a
// Create's Commit) and, until Heal, every later one, optionally counting
// only keys a predicate selects ("the third write under train/"). A failed
// write stores nothing: the wrapped store never sees a failed Put, and a
// failed Commit aborts the wrapped writer.
//
// DiskFull wraps a store whose disk holds only a given number of further
// bytes. A write that crosses the limit writes the bytes that still fit,
// then fails with an error wrapping syscall.ENOSPC, as a real full disk
// does: over a store.Local the partial bytes are really in the write's
// temporary file until the caller aborts it. Frees are not modelled: the
// budget only shrinks (AddSpace refills it).
//
// Register makes a store reachable through store.Open at a unique
// "fault://" URI, so a whole pipeline can be given it as its output
// location.
//
// Reads, listing and deletes pass through both unchanged. Both are safe for
// concurrent use; errors they inject wrap ErrInjected.
package storetest
