package transforms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/fabeam/fabeam/artifacts/store"
)

// Integrity is what a stage's completion record (result.json,
// dataset.json, extract.json, compare.json, saliency.json) holds besides
// the stage's own fields, so that the stage's outputs prove themselves:
//
//   - Artifacts: the Digest (size, SHA-256, CRC-32C) of every file the
//     stage wrote under its key, by file name, taken as it was written;
//   - Inputs: the Digest of every upstream completion record the stage
//     used, by store key, so a stage whose inputs were redone since is
//     redone too;
//   - Seal: the SHA-256 of the record's canonical JSON without the seal
//     (every field, keys sorted, compact), so a hand-edited number in the
//     record is found. The seal is a checksum against accidents and
//     edits, not a signature: whoever edits a record on purpose can
//     recompute it.
type Integrity struct {
	Artifacts map[string]store.Digest `json:"artifacts,omitempty"`
	Inputs    map[string]store.Digest `json:"inputs,omitempty"`
	Seal      string                  `json:"seal,omitempty"`
}

// The record fields Integrity adds. No stage record has fields of these
// names.
const (
	fieldArtifacts = "artifacts"
	fieldInputs    = "inputs"
	fieldSeal      = "seal"
)

var (
	damagedCounter  = beam.NewCounter("fabeam", "damaged")
	upgradedCounter = beam.NewCounter("fabeam", "upgraded")
)

// damageError says a stored artifact or record is not what its stage wrote.
// It matches store.ErrDamaged.
type damageError struct{ msg string }

func (e *damageError) Error() string        { return e.msg }
func (e *damageError) Is(target error) bool { return target == store.ErrDamaged }

func damaged(format string, args ...any) error {
	return &damageError{fmt.Sprintf(format, args...)}
}

// inputChangedError says a stage's input record is not the one the stage
// was made from: the stage that wrote it ran again (usually in this same
// run, after finding its own damage). The stage is redone, but nothing of
// its own is damaged, so this is logged as information, not as a warning:
// one damaged file gives one warning line, not one per stage downstream.
type inputChangedError struct{ msg string }

func (e *inputChangedError) Error() string        { return e.msg }
func (e *inputChangedError) Is(target error) bool { return target == store.ErrDamaged }

// isDamage reports whether err is evidence that an artifact is missing,
// truncated or altered (rather than a failure to look, such as a
// permission or network error).
func isDamage(err error) bool {
	return errors.Is(err, store.ErrDamaged) || errors.Is(err, store.ErrNotExist)
}

// sealOf is the seal of a record's fields (the seal field itself left out).
func sealOf(fields map[string]json.RawMessage) string {
	rest := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		if k != fieldSeal {
			rest[k] = v
		}
	}
	b, err := json.Marshal(rest) // keys sorted, values compacted
	if err != nil {
		panic(fmt.Sprintf("transforms: sealing a record: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// encodeDone returns the completion record of v (a struct) with in's
// artifacts and inputs and a fresh seal: v's fields in declaration order,
// then "artifacts", "inputs" and "seal", indented, with a trailing newline.
func encodeDone(v any, in Integrity) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("a completion record must be a JSON object: %w", err)
	}
	for _, k := range []string{fieldArtifacts, fieldInputs, fieldSeal} {
		if _, clash := fields[k]; clash {
			return nil, fmt.Errorf("record %T has a field %q, which the completion record reserves", v, k)
		}
	}
	var extra []string
	add := func(name string, m map[string]store.Digest) {
		if len(m) == 0 {
			return
		}
		b, _ := json.Marshal(m)
		fields[name] = b
		extra = append(extra, fmt.Sprintf("%q:%s", name, b))
	}
	add(fieldArtifacts, in.Artifacts)
	add(fieldInputs, in.Inputs)
	extra = append(extra, fmt.Sprintf("%q:%q", fieldSeal, sealOf(fields)))
	var doc bytes.Buffer
	doc.Write(bytes.TrimSuffix(body, []byte("}")))
	for i, e := range extra {
		if i > 0 || len(body) > 2 {
			doc.WriteByte(',')
		}
		doc.WriteString(e)
	}
	doc.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, doc.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// decodeDone parses a completion record into v and returns its Integrity.
// legacy is true for a record written before records held digests (no
// artifacts, inputs or seal). A record that is not JSON, does not fit v,
// or whose seal does not match its fields is damage.
func decodeDone(what string, raw []byte, v any) (in Integrity, legacy bool, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return in, false, damaged("%s is not a JSON object (%v)", what, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return in, false, damaged("%s does not hold a valid record (%v)", what, err)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return in, false, damaged("%s: malformed integrity fields (%v)", what, err)
	}
	_, hasA := fields[fieldArtifacts]
	_, hasI := fields[fieldInputs]
	_, hasS := fields[fieldSeal]
	switch {
	case !hasA && !hasI && !hasS:
		return in, true, nil
	case !hasS:
		return in, false, damaged("%s lists digests but has no seal: it was edited", what)
	case sealOf(fields) != in.Seal:
		return in, false, damaged("%s was edited after it was written (its seal does not match its content)", what)
	}
	return in, false, nil
}

// readRecord reads the completion record at key into v, checking its seal,
// and returns its Integrity. A legacy record (no digests) is accepted.
func readRecord(ctx context.Context, st store.Store, key string, v any) (Integrity, error) {
	raw, err := st.Get(ctx, key)
	if err != nil {
		if isNotExist(err) {
			return Integrity{}, &store.DamagedError{URI: st.URI(key), Key: key, Kind: store.Missing}
		}
		return Integrity{}, err
	}
	in, _, err := decodeDone(st.URI(key), raw, v)
	return in, err
}

// getArtifact returns the artifact name of the stage at key whose record
// says in, checked against its digest (size and SHA-256 of every byte).
func getArtifact(ctx context.Context, st store.Store, key, name string, in Integrity) ([]byte, error) {
	d, ok := in.Artifacts[name]
	if !ok {
		return nil, damaged("%s: its record %s holds no digest of it", st.URI(store.Join(key, name)), key)
	}
	return store.GetVerified(ctx, st, store.Join(key, name), d)
}

// putDone writes v with in as the completion record at marker.
func putDone(ctx context.Context, st store.Store, marker string, v any, in Integrity) error {
	b, err := encodeDone(v, in)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", marker, err)
	}
	if err := st.Put(ctx, marker, b); err != nil {
		return fmt.Errorf("writing %s: %w", st.URI(marker), err)
	}
	return nil
}

// putJSONDigest is putJSON that returns the Digest of what it stored.
func putJSONDigest(ctx context.Context, st store.Store, key string, v any) (store.Digest, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return store.Digest{}, fmt.Errorf("encoding %s: %w", key, err)
	}
	d, err := store.PutDigest(ctx, st, key, append(b, '\n'))
	if err != nil {
		return store.Digest{}, fmt.Errorf("writing %s: %w", st.URI(key), err)
	}
	return d, nil
}

// sumInputs returns the Digest of each upstream record at keys, as the
// stage about to use them finds them.
func sumInputs(ctx context.Context, st store.Store, keys []string) (map[string]store.Digest, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	m := map[string]store.Digest{}
	for _, k := range keys {
		d, err := store.SumObject(ctx, st, k)
		if err != nil {
			return nil, fmt.Errorf("reading input %s: %w", st.URI(k), err)
		}
		m[k] = d
	}
	return m, nil
}

// wholeFiles are the artifacts checked byte for byte on every skip
// (VerifyFull) whatever their size: they are published or read whole
// downstream, so a changed byte deep inside must be found before a stage
// is skipped. Other large artifacts (features, the dataset) are checked by
// size and header on a local store; on Cloud Storage every object is
// checked by its CRC-32C, which covers every byte without a download.
var wholeFiles = map[string]bool{ModelFile: true, HistoryFile: true}

// verifyArtifact checks the object at key against d.
func verifyArtifact(ctx context.Context, st store.Store, key string, d store.Digest) error {
	if _, cs := st.(store.Checksummer); wholeFiles[baseName(key)] && !cs {
		return store.VerifyFull(ctx, st, key, d)
	}
	return store.Verify(ctx, st, key, d)
}

func baseName(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[i+1:]
		}
	}
	return key
}

// doneCheck describes how a stage's completion record is checked before
// the stage is skipped.
type doneCheck struct {
	// What names the stage execution in log lines ("train bp seed 0").
	What string
	// Redo says what happens when the check fails ("training it again").
	Redo string
	// Key is the stage key; Marker the record's file name under it.
	Key, Marker string
	// Files are the artifacts under Key the record must describe.
	Files []string
	// Inputs are the store keys of the upstream records the stage uses.
	Inputs []string
	// Legacy checks, by their structure, the files of a record written
	// before records held digests (v is the decoded record). It returns
	// damage (isDamage) for a file that is missing or malformed.
	Legacy func(ctx context.Context, st store.Store, v any) error
}

// loadDone reads a stage's completion record into v and decides whether
// the stage can be skipped. It reports true (counting the stage as
// skipped) when the record exists and everything it describes checks
// out: its seal, every artifact's digest (verifyArtifact) and every
// input's. It reports false when there is no record; when the record or
// an artifact is damaged, with one warning line naming what was found and
// what is redone (counter "damaged"); or when an input changed since, with
// an information line: the stage then runs again and rewrites everything,
// and the stages that use it see their inputs change and run again too. A
// record without digests (written before they existed) is checked by
// c.Legacy and, if its files pass, rewritten with their digests (counter
// "upgraded"), without redoing the stage. Errors that are not damage (permissions, network)
// are returned.
func loadDone(ctx context.Context, st store.Store, c doneCheck, v any) (bool, error) {
	marker := store.Join(c.Key, c.Marker)
	raw, err := st.Get(ctx, marker)
	switch {
	case isNotExist(err):
		return false, nil
	case err != nil:
		return false, err
	}
	err = checkDone(ctx, st, c, marker, raw, v)
	if err == nil {
		skippedStages.Inc(ctx, 1)
		return true, nil
	}
	if !isDamage(err) {
		return false, err
	}
	if changed := (*inputChangedError)(nil); errors.As(err, &changed) {
		log.Infof(ctx, "%s: %v; %s", c.What, err, c.Redo)
		return false, nil
	}
	damagedCounter.Inc(ctx, 1)
	log.Warnf(ctx, "%s: %v; %s", c.What, err, c.Redo)
	return false, nil
}

func checkDone(ctx context.Context, st store.Store, c doneCheck, marker string, raw []byte, v any) error {
	in, legacy, err := decodeDone(st.URI(marker), raw, v)
	if err != nil {
		return err
	}
	if legacy {
		return upgradeDone(ctx, st, c, marker, v)
	}
	for _, name := range c.Files {
		d, ok := in.Artifacts[name]
		if !ok {
			return damaged("%s holds no digest of %s", st.URI(marker), name)
		}
		if err := verifyArtifact(ctx, st, store.Join(c.Key, name), d); err != nil {
			return err
		}
	}
	for _, k := range c.Inputs {
		d, ok := in.Inputs[k]
		if !ok {
			return damaged("%s holds no digest of its input %s", st.URI(marker), k)
		}
		if err := store.Verify(ctx, st, k, d); err != nil {
			if isDamage(err) {
				return &inputChangedError{fmt.Sprintf("its input %s was rewritten since it was made (the stage that wrote it was redone)", st.URI(k))}
			}
			return err
		}
	}
	return nil
}

// upgradeDone checks a legacy record's files by their structure and, if
// they pass, rewrites the record with their digests and its inputs'.
func upgradeDone(ctx context.Context, st store.Store, c doneCheck, marker string, v any) error {
	if c.Legacy != nil {
		if err := c.Legacy(ctx, st, v); err != nil {
			return err
		}
	}
	in := Integrity{Artifacts: map[string]store.Digest{}}
	for _, name := range c.Files {
		d, err := store.SumObject(ctx, st, store.Join(c.Key, name))
		if err != nil {
			return err
		}
		in.Artifacts[name] = d
	}
	var err error
	if in.Inputs, err = sumInputs(ctx, st, c.Inputs); err != nil {
		return err
	}
	if err := putDone(ctx, st, marker, v, in); err != nil {
		return err
	}
	upgradedCounter.Inc(ctx, 1)
	log.Infof(ctx, "%s: %s had no digests; its files passed a structural check and their digests were recorded (%d files)",
		c.What, st.URI(marker), len(c.Files))
	return nil
}
