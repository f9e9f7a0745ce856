// Package store is where fabeam keeps its artifacts: one Store interface
// over a local folder (Local), a Cloud Storage bucket (GCS) and memory
// (Memory). Open picks one from a location string: "gs://bucket/prefix",
// "mem://name[/prefix]" or a local path.
//
// # Keys
//
// A key is a relative slash-separated path, "runs/bp/seed0/model.safetensors".
// ValidateKey rejects anything that could escape a folder or mean different
// things in different stores: empty keys and segments, leading or trailing
// slashes, "." and "..", backslashes, control characters (C0 with NUL,
// DEL, and C1, which Cloud Storage advises against), invalid UTF-8, more
// than 1024 bytes (GCS's limit), and segments starting with ".tmp-", which
// Local reserves for its temporary files. Every method
// validates its key and returns an error naming it. FuzzValidateKey checks
// ValidateKey against an independent statement of this grammar (a regular
// expression in the test), in both directions. List takes a plain
// string prefix, as GCS does ("runs/b" matches "runs/bp/x"), and returns
// keys sorted; a folder is not an object (Exists is false for it).
//
// # Atomicity: nothing is ever half-written
//
// Local: Create writes "<dir>/.tmp-<name>-<random>" beside the destination
// (so the rename never crosses file systems), Commit fsyncs it, renames it
// over the destination (atomic on POSIX) and fsyncs the folder. Abort
// removes the temporary file. A crash in between leaves at worst a stray
// ".tmp-" file, which List skips.
//
// GCS: an object comes into existence only when its upload completes
// (Commit closes the storage.Writer); Abort cancels the upload's context
// so it never completes. Each upload carries a precondition read when it
// starts: DoesNotExist if the object was absent, GenerationMatch on its
// generation if present. Hence a write never silently replaces an object
// another writer changed meanwhile (Commit then fails with an error saying
// so; Put re-reads the generation and retries up to three times, last
// writer wins), and every request can be retried safely.
//
// Memory: objects are copied in on Put/Commit and out on Get.
//
// Local files are created with mode 0666 less the process's umask (0644
// under the usual umask 022), as any other program's files; folders 0755
// less the umask.
//
// # Integrity: artifacts that prove themselves
//
// A Digest records what an object held when it was written: size, SHA-256,
// SHA-256 of its first HeadBytes (64 KiB) bytes, and CRC-32C. PutDigest
// (Put) and CreateDigest (Create) return it; Sum and SumObject compute it
// from bytes or a stored object. Its JSON form is meant for the record that
// marks a stage done.
//
// Verify(ctx, st, key, digest) checks an object against its Digest as
// cheaply as is sound: on GCS, by the size and CRC-32C Cloud Storage keeps
// for every object (StoredChecksum: one metadata request, no download);
// elsewhere, by reading objects of up to FullHashLimit (16 MiB) whole, and
// by size plus the header hash for larger ones. VerifyFull always reads and
// hashes everything; GetVerified is Get checked the same way, for artifacts
// read whole anyway. A damaged object gives a *DamagedError, one line
// naming it and what was found, that matches ErrDamaged (and ErrNotExist
// when missing):
//
//	store: /out/train/ab12/model.safetensors: missing
//	store: /out/train/ab12/model.safetensors: truncated: size 999080 want 1618984
//	store: /out/train/ab12/model.safetensors: altered: size 1618985 want 1618984
//	store: /out/train/ab12/model.safetensors: altered: hash mismatch (sha256 5e0c… want 91aa…)
//
// Any other error (permissions, network) is a failure to check, not
// damage. On GCS every upload also carries a CRC-32C (Put sends the one of
// its data; the storage client computes one for Create's stream), so Cloud
// Storage rejects an upload whose bytes changed on the way.
//
// # Failures from outside
//
// NewLocal creates the folder and probes that it can write there; a
// folder that cannot be created or written is an error naming it and
// saying to choose another or fix its permissions. NewGCS reads the
// bucket's attributes; a missing bucket is an error saying how to create
// it, a 401/403 one saying which permission is needed. Transient GCS
// errors (408, 429, 5xx, connection resets) are retried with exponential
// backoff and jitter (storage.RetryAlways, safe because of the
// preconditions; default 1 s doubling to 30 s, 8 attempts; GCSOptions
// tunes it). Small Puts are uploaded in one request but still buffered
// so a retry can resend them; Create uses resumable uploads in 16 MiB
// chunks (one chunk of memory per open writer).
//
// Missing objects: Get and Open return errors wrapping ErrNotExist (test
// with errors.Is); Exists returns false; Delete of a missing key succeeds.
//
// # Readers
//
// Open returns a Reader with ReadAt (random access, safe for concurrent
// use), sequential Read, and Size. Local and Memory readers keep reading
// the version they opened after an overwrite. A GCS reader is pinned to
// the generation it opened, so it never mixes two versions; if that
// generation is overwritten or deleted (and the bucket keeps no old
// versions) later reads fail with an error wrapping ErrNotExist. On GCS
// each ReadAt is one ranged request: read in large blocks.
//
// # Decisions where the brief was silent
//
//   - Open("gs://...") shares one process-wide storage client, created on
//     first use (storage.NewClient honours STORAGE_EMULATOR_HOST). There is
//     no Close: the client lives as long as the process, as Beam workers do.
//   - "mem://name" stores live in a process-wide registry forever; a path
//     after the name is a key prefix (Memory.Sub).
//   - Local.Delete leaves emptied folders in place; they are not objects
//     and List does not report them.
//   - On Local, a key cannot be both an object and a folder ("a" and
//     "a/b"): the file system refuses the second write with an error.
//   - Writer.Abort after Commit is a no-op returning nil, so
//     `defer w.Abort()` is the idiom; Write or Commit after either is an
//     error.
//
// # Tests
//
// One conformance table (conformance_test.go) runs against all three
// stores; the GCS store runs it against an in-process fake-gcs-server
// (github.com/fsouza/fake-gcs-server) through a real HTTP listener, with a
// front that injects 503s to test the retries, and further tests for the
// preconditions, resumable uploads and the missing-bucket error.
// integrity_test.go damages objects behind each store's back (deleted,
// truncated, emptied, grown, a header byte and a last byte changed) and
// checks what Verify and VerifyFull find, and that Verify on GCS downloads
// nothing.
//
// Package storetest (artifacts/store/storetest) wraps a Store to fail on
// purpose, for other packages' tests: Faulty fails the N-th write and every
// later one, DiskFull fails a write midway as a full disk does.
package store
