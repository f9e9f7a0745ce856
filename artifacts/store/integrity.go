package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// HeadBytes is how much of an object's start Digest.Head covers: enough for
// a safetensors or feature file's header.
const HeadBytes = 64 << 10

// FullHashLimit is the largest object Verify hashes whole; a larger one is
// checked by size and Digest.Head (or, on Cloud Storage, by size and the
// CRC-32C the service keeps, which covers every byte and needs no download).
const FullHashLimit = 16 << 20

// Digest says what an object held when it was written: its length, the
// SHA-256 of all of it and of its first HeadBytes bytes, and its CRC-32C
// (Castagnoli, the checksum Cloud Storage keeps for every object). Hashes
// are lowercase hex. It encodes to JSON as
//
//	{"size": 5, "sha256": "2cf2…", "head_sha256": "2cf2…", "crc32c": 2591144780}
//
// so a stage can keep it in the record that marks it done.
type Digest struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Head   string `json:"head_sha256"`
	CRC32C uint32 `json:"crc32c"`
}

// String returns "N bytes, sha256 <first 12 hex digits>".
func (d Digest) String() string {
	return fmt.Sprintf("%d bytes, sha256 %s", d.Size, short(d.SHA256))
}

// check returns an error unless d looks like a Digest this package made.
func (d Digest) check() error {
	switch {
	case d.Size < 0:
		return fmt.Errorf("negative size %d", d.Size)
	case !isHex256(d.SHA256):
		return fmt.Errorf("sha256 %q is not 64 lowercase hex digits", d.SHA256)
	case !isHex256(d.Head):
		return fmt.Errorf("head_sha256 %q is not 64 lowercase hex digits", d.Head)
	case d.Size <= HeadBytes && d.Head != d.SHA256:
		return fmt.Errorf("head_sha256 differs from sha256 for a %d-byte object", d.Size)
	}
	return nil
}

func isHex256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// short abbreviates a hex hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// castagnoli is the CRC-32C table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Digester computes a Digest of the bytes written to it. The zero value is
// not ready; use NewDigester.
type Digester struct {
	n    int64
	full hash.Hash
	head hash.Hash
	crc  uint32
}

// NewDigester returns a Digester of the empty string.
func NewDigester() *Digester {
	return &Digester{full: sha256.New(), head: sha256.New()}
}

// Write adds p to the digest; it never fails.
func (h *Digester) Write(p []byte) (int, error) {
	if h.n < HeadBytes {
		h.head.Write(p[:min(int64(len(p)), HeadBytes-h.n)])
	}
	h.full.Write(p)
	h.crc = crc32.Update(h.crc, castagnoli, p)
	h.n += int64(len(p))
	return len(p), nil
}

// Digest returns the digest of everything written so far.
func (h *Digester) Digest() Digest {
	return Digest{
		Size:   h.n,
		SHA256: hex.EncodeToString(h.full.Sum(nil)),
		Head:   hex.EncodeToString(h.head.Sum(nil)),
		CRC32C: h.crc,
	}
}

// Sum returns the Digest of data.
func Sum(data []byte) Digest {
	h := NewDigester()
	h.Write(data)
	return h.Digest()
}

// PutDigest is st.Put that also returns the Digest of what it stored.
func PutDigest(ctx context.Context, st Store, key string, data []byte) (Digest, error) {
	d := Sum(data)
	if err := st.Put(ctx, key, data); err != nil {
		return Digest{}, err
	}
	return d, nil
}

// DigestWriter is a Writer that also computes the Digest of what it writes.
type DigestWriter struct {
	w Writer
	h *Digester
}

// CreateDigest is st.Create returning a DigestWriter: after Commit, Digest
// describes the object stored.
func CreateDigest(ctx context.Context, st Store, key string) (*DigestWriter, error) {
	w, err := st.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &DigestWriter{w: w, h: NewDigester()}, nil
}

// Write writes p and adds the bytes accepted to the digest.
func (w *DigestWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.h.Write(p[:n])
	return n, err
}

// Commit commits the underlying Writer.
func (w *DigestWriter) Commit() error { return w.w.Commit() }

// Abort aborts the underlying Writer.
func (w *DigestWriter) Abort() error { return w.w.Abort() }

// Digest returns the digest of the bytes written so far: after a
// successful Commit, the stored object's.
func (w *DigestWriter) Digest() Digest { return w.h.Digest() }

// SumObject reads the object at key and returns its Digest, or an error
// wrapping ErrNotExist.
func SumObject(ctx context.Context, st Store, key string) (Digest, error) {
	r, err := st.Open(ctx, key)
	if err != nil {
		return Digest{}, err
	}
	defer r.Close()
	h := NewDigester()
	if _, err := io.Copy(h, r); err != nil {
		return Digest{}, fmt.Errorf("store: reading %s: %w", st.URI(key), err)
	}
	return h.Digest(), nil
}

// Checksummer is implemented by stores that keep each object's size and
// CRC-32C themselves (GCS), so Verify can check an object without reading
// it. ok is false when the store has no checksum for this object; a
// missing object is an error wrapping ErrNotExist.
type Checksummer interface {
	StoredChecksum(ctx context.Context, key string) (size int64, crc32c uint32, ok bool, err error)
}

// ErrDamaged is wrapped by every error Verify returns because an object is
// not the one its Digest describes (missing, truncated or altered); test
// for it with errors.Is. Other Verify errors (permissions, network) are
// failures to check, not evidence of damage.
var ErrDamaged = errors.New("store: object damaged")

// Damage says how an object differs from its Digest.
type Damage int

const (
	// Missing: no object at the key.
	Missing Damage = iota + 1
	// Truncated: the object is shorter than it was written.
	Truncated
	// Altered: the object is longer, or its bytes differ.
	Altered
	// Unverifiable: the recorded Digest is malformed, so nothing can be
	// checked against it.
	Unverifiable
)

func (k Damage) String() string {
	switch k {
	case Missing:
		return "missing"
	case Truncated:
		return "truncated"
	case Altered:
		return "altered"
	case Unverifiable:
		return "unverifiable"
	}
	return fmt.Sprintf("Damage(%d)", int(k))
}

// DamagedError is the error Verify returns for a damaged object. Its
// message is one line naming the object and what was found:
//
//	store: /out/train/ab12/model.safetensors: missing
//	store: /out/train/ab12/model.safetensors: truncated: size 999080 want 1618984
//	store: /out/train/ab12/model.safetensors: altered: hash mismatch (sha256 5e0c… want 91aa…)
//
// errors.Is(err, ErrDamaged) holds for every DamagedError, and
// errors.Is(err, ErrNotExist) for a Missing one.
type DamagedError struct {
	URI    string // where the object lives, as Store.URI gives it
	Key    string
	Kind   Damage
	Size   int64  // size found (Truncated, Altered by size)
	Want   int64  // size recorded
	Detail string // what differed, for Altered and Unverifiable
}

func (e *DamagedError) Error() string {
	switch {
	case e.Kind == Missing:
		return fmt.Sprintf("store: %s: missing", e.URI)
	case e.Detail != "":
		return fmt.Sprintf("store: %s: %s: %s", e.URI, e.Kind, e.Detail)
	}
	return fmt.Sprintf("store: %s: %s: size %d want %d", e.URI, e.Kind, e.Size, e.Want)
}

// Is makes errors.Is match ErrDamaged, and ErrNotExist for Missing.
func (e *DamagedError) Is(target error) bool {
	return target == ErrDamaged || (target == ErrNotExist && e.Kind == Missing)
}

// Verify checks that the object at key is the one want describes, as
// cheaply as that can be done soundly:
//
//   - on a store that keeps checksums (GCS), by the size and CRC-32C it
//     keeps, with no download;
//   - otherwise, for objects of at most FullHashLimit bytes, by reading it
//     whole and comparing size and SHA-256;
//   - for larger objects, by size and the SHA-256 of the first HeadBytes
//     bytes (a header), which catches truncation, deletion and a rewritten
//     header but not a changed byte further in (VerifyFull does).
//
// It returns nil, a *DamagedError (wrapping ErrDamaged) saying what was
// found, or another error when the object could not be read.
func Verify(ctx context.Context, st Store, key string, want Digest) error {
	return verify(ctx, st, key, want, false)
}

// GetVerified is st.Get that also checks the bytes against want (size and
// SHA-256 of exactly what it returns), for artifacts read whole anyway: one
// read, verified. Damage gives a *DamagedError as Verify's.
func GetVerified(ctx context.Context, st Store, key string, want Digest) ([]byte, error) {
	c := objectCheck{st: st, key: key, want: want}
	if err := want.check(); err != nil {
		return nil, c.invalidDigest(err)
	}
	data, err := st.Get(ctx, key)
	switch {
	case errors.Is(err, ErrNotExist):
		return nil, c.damaged(Missing, 0, "")
	case err != nil:
		return nil, err
	case int64(len(data)) < want.Size:
		return nil, c.damaged(Truncated, int64(len(data)), "")
	case int64(len(data)) > want.Size:
		return nil, c.damaged(Altered, int64(len(data)), "")
	}
	if err := c.compare(Sum(data), false); err != nil {
		return nil, err
	}
	return data, nil
}

// VerifyFull is Verify that always reads the whole object and compares its
// size and SHA-256, whatever its size and store.
func VerifyFull(ctx context.Context, st Store, key string, want Digest) error {
	return verify(ctx, st, key, want, true)
}

// verify is Verify (full false) and VerifyFull (full true): it checks the
// recorded digest, then the object by the store's own checksum where the
// store keeps one and full is false, and otherwise by reading it.
func verify(ctx context.Context, st Store, key string, want Digest, full bool) error {
	c := objectCheck{st: st, key: key, want: want}
	if err := want.check(); err != nil {
		return c.invalidDigest(err)
	}
	if cs, isCS := st.(Checksummer); isCS && !full {
		if done, err := c.byStoredChecksum(ctx, cs); done {
			return err
		}
		// No stored checksum: read it, below.
	}
	return c.byReading(ctx, full)
}

// objectCheck is one object being checked against the Digest recorded
// when it was written; its methods make the *DamagedError for what they
// find.
type objectCheck struct {
	st   Store
	key  string
	want Digest
}

// damaged returns the *DamagedError of kind for the object, found with
// size bytes (0 when not known), detail saying what differed.
func (c objectCheck) damaged(kind Damage, size int64, detail string) error {
	return &DamagedError{URI: c.st.URI(c.key), Key: c.key, Kind: kind, Size: size, Want: c.want.Size, Detail: detail}
}

// invalidDigest is the Unverifiable damage of a recorded digest that
// failed Digest.check with err.
func (c objectCheck) invalidDigest(err error) error {
	return c.damaged(Unverifiable, 0, "recorded digest is invalid: "+err.Error())
}

// bySize is the damage of an object found with size bytes instead of the
// recorded size: Truncated when shorter, Altered when longer.
func (c objectCheck) bySize(size int64) error {
	if size < c.want.Size {
		return c.damaged(Truncated, size, "")
	}
	return c.damaged(Altered, size, "")
}

// byStoredChecksum checks the object by the size and CRC-32C that cs keeps
// for it, with no download. done is false, with a nil error, when cs has no
// checksum for the object, which must then be read.
func (c objectCheck) byStoredChecksum(ctx context.Context, cs Checksummer) (done bool, err error) {
	size, crc, ok, err := cs.StoredChecksum(ctx, c.key)
	switch {
	case errors.Is(err, ErrNotExist):
		return true, c.damaged(Missing, 0, "")
	case err != nil:
		return true, err
	case size != c.want.Size:
		return true, c.bySize(size)
	case ok && crc == c.want.CRC32C:
		return true, nil
	case ok:
		return true, c.damaged(Altered, size, fmt.Sprintf("hash mismatch (crc32c %08x want %08x)", crc, c.want.CRC32C))
	}
	return false, nil
}

// byReading opens the object, checks its size, and hashes it: whole when
// full or when it is at most FullHashLimit bytes, otherwise only its first
// HeadBytes bytes.
func (c objectCheck) byReading(ctx context.Context, full bool) error {
	r, err := c.st.Open(ctx, c.key)
	if errors.Is(err, ErrNotExist) {
		return c.damaged(Missing, 0, "")
	}
	if err != nil {
		return err
	}
	defer r.Close()
	if size := r.Size(); size != c.want.Size {
		return c.bySize(size)
	}
	h := NewDigester()
	limit, headOnly := c.want.Size, !full && c.want.Size > FullHashLimit
	if headOnly {
		limit = HeadBytes
	}
	n, err := io.Copy(h, io.LimitReader(r, limit))
	if err != nil {
		return fmt.Errorf("store: verifying %s: %w", c.st.URI(c.key), err)
	}
	if n < limit {
		// Shrank between Open and the read.
		return c.bySize(n)
	}
	return c.compare(h.Digest(), headOnly)
}

// compare checks the digest got of the object's bytes against the
// recorded one: the SHA-256 of the first HeadBytes bytes when headOnly,
// else the SHA-256 of the whole object.
func (c objectCheck) compare(got Digest, headOnly bool) error {
	if headOnly {
		if got.Head != c.want.Head {
			return c.damaged(Altered, c.want.Size, fmt.Sprintf("header hash mismatch (sha256 of the first %d bytes %s want %s)", HeadBytes, short(got.Head), short(c.want.Head)))
		}
		return nil
	}
	if got.SHA256 != c.want.SHA256 {
		return c.damaged(Altered, c.want.Size, fmt.Sprintf("hash mismatch (sha256 %s want %s)", short(got.SHA256), short(c.want.SHA256)))
	}
	return nil
}
