package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func TestSumOfKnownInputs(t *testing.T) {
	// Reference values: FIPS 180-2's "abc" example, the SHA-256 of the
	// empty string, and CRC-32C's standard check value for "123456789".
	abc := Sum([]byte("abc"))
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; abc.SHA256 != want || abc.Head != want || abc.Size != 3 {
		t.Errorf("Sum(abc) = %+v, want size 3 and sha256/head %s", abc, want)
	}
	empty := Sum(nil)
	if want := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; empty.SHA256 != want || empty.Head != want || empty.Size != 0 || empty.CRC32C != 0 {
		t.Errorf("Sum(nil) = %+v", empty)
	}
	if got := Sum([]byte("123456789")).CRC32C; got != 0xe3069283 {
		t.Errorf("CRC32C(123456789) = %08x, want e3069283", got)
	}
}

func TestSumOfALargeObjectHashesItsHeadSeparately(t *testing.T) {
	data := pattern(HeadBytes + 12345)
	d := Sum(data)
	full, head := sha256.Sum256(data), sha256.Sum256(data[:HeadBytes])
	if d.SHA256 != hex.EncodeToString(full[:]) || d.Head != hex.EncodeToString(head[:]) || d.Size != int64(len(data)) {
		t.Errorf("Sum = %+v, want sha256 %x, head %x", d, full, head)
	}
	if d.CRC32C != crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) {
		t.Errorf("CRC32C = %08x, want the Castagnoli CRC", d.CRC32C)
	}
}

func TestDigesterAgreesWithSumWhateverTheWriteSizes(t *testing.T) {
	data := pattern(3*HeadBytes + 7)
	want := Sum(data)
	for _, step := range []int{1, 1000, HeadBytes - 1, HeadBytes, HeadBytes + 1, len(data)} {
		h := NewDigester()
		for i := 0; i < len(data); i += step {
			h.Write(data[i:min(i+step, len(data))])
		}
		if got := h.Digest(); got != want {
			t.Errorf("writes of %d bytes: %+v, want %+v", step, got, want)
		}
	}
}

func TestDigestJSONEncoding(t *testing.T) {
	b, err := json.Marshal(Sum([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"size":5,"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","head_sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","crc32c":2591144780}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
	// 2591144780 is CRC-32C("hello"), from a bitwise implementation of the
	// reflected polynomial 0x82F63B78 (python3, not this package's code).
	var back Digest
	if err := json.Unmarshal(b, &back); err != nil || back != Sum([]byte("hello")) {
		t.Errorf("decoded %+v, %v", back, err)
	}
}

// pattern returns n bytes that differ from any shifted copy of themselves.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// damageable is a store under test together with a back door that replaces
// or removes an object behind the store's back, as a user, a crash or a
// failing disk would.
type damageable struct {
	st        Store
	replace   func(t *testing.T, key string, data []byte)
	downloads func() int64 // content requests so far; nil when not counted
}

func integrityStores() []struct {
	name string
	new  func(t *testing.T) damageable
} {
	return []struct {
		name string
		new  func(t *testing.T) damageable
	}{
		{"local", func(t *testing.T) damageable {
			l, err := NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			// In place, as an editor or a truncating copy would.
			return damageable{st: l, replace: func(t *testing.T, key string, data []byte) {
				if err := os.WriteFile(l.URI(key), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}}
		}},
		{"memory", func(t *testing.T) damageable {
			m := NewMemory().Sub("view")
			return damageable{st: m, replace: func(t *testing.T, key string, data []byte) {
				m.d.mu.Lock()
				m.d.objs[m.prefix+key] = bytes.Clone(data)
				m.d.mu.Unlock()
			}}
		}},
		{"gcs", func(t *testing.T) damageable {
			e := newEmulator(t)
			g := e.newGCS(t, e.client(t), "verify")
			return damageable{st: g, downloads: e.downloads.Load,
				replace: func(t *testing.T, key string, data []byte) {
					// Straight into the emulator's backend, which computes
					// the object's CRC-32C as Cloud Storage does.
					e.srv.CreateObject(fakestorage.Object{
						ObjectAttrs: fakestorage.ObjectAttrs{BucketName: testBucket, Name: g.prefix + key},
						Content:     bytes.Clone(data),
					})
				}}
		}},
	}
}

func TestVerifyFindsEveryKindOfDamage(t *testing.T) {
	ctx := context.Background()
	small := pattern(HeadBytes + 5000) // whole-file hash, head differs from whole
	large := pattern(FullHashLimit + 3*HeadBytes)
	for _, s := range integrityStores() {
		t.Run(s.name, func(t *testing.T) {
			ds := s.new(t)
			st := ds.st
			for _, size := range []struct {
				name string
				data []byte
			}{{"small", small}, {"large", large}} {
				data := size.data
				key := "train/ab12/" + size.name + ".safetensors"
				want, err := PutDigest(ctx, st, key, data)
				if err != nil {
					t.Fatal(err)
				}
				if want != Sum(data) {
					t.Fatalf("PutDigest = %+v, want Sum = %+v", want, Sum(data))
				}
				uri := st.URI(key)
				flip := func(at int) []byte {
					b := bytes.Clone(data)
					b[at] ^= 0x40
					return b
				}
				// tail: damage past the header, which only a whole-content
				// check sees.
				tailCaught := size.name == "small" || s.name == "gcs"
				hashMsg := "store: " + uri + ": altered: hash mismatch (sha256 "
				cases := []struct {
					name           string
					damage         func()
					kind, fullKind Damage // what Verify and VerifyFull find; 0: intact
					fullMsg        string // VerifyFull's message starts so
				}{
					{"fine", func() {}, 0, 0, ""},
					{"missing", func() {
						if err := st.Delete(ctx, key); err != nil {
							t.Fatal(err)
						}
					}, Missing, Missing, "store: " + uri + ": missing"},
					{"truncated", func() { ds.replace(t, key, data[:len(data)-1000]) }, Truncated, Truncated,
						fmt.Sprintf("store: %s: truncated: size %d want %d", uri, len(data)-1000, len(data))},
					{"emptied", func() { ds.replace(t, key, nil) }, Truncated, Truncated,
						fmt.Sprintf("store: %s: truncated: size 0 want %d", uri, len(data))},
					{"grown", func() { ds.replace(t, key, append(bytes.Clone(data), 'x')) }, Altered, Altered,
						fmt.Sprintf("store: %s: altered: size %d want %d", uri, len(data)+1, len(data))},
					{"header byte changed", func() { ds.replace(t, key, flip(10)) }, Altered, Altered, hashMsg},
					{"last byte changed", func() { ds.replace(t, key, flip(len(data)-1)) },
						map[bool]Damage{true: Altered, false: 0}[tailCaught], Altered, hashMsg},
				}
				for _, c := range cases {
					t.Run(size.name+"/"+c.name, func(t *testing.T) {
						ds.replace(t, key, data)
						c.damage()
						var before int64
						if ds.downloads != nil {
							before = ds.downloads()
						}
						err := Verify(ctx, st, key, want)
						if ds.downloads != nil {
							if n := ds.downloads() - before; n != 0 {
								t.Errorf("Verify on GCS made %d download requests, want none (the stored CRC-32C serves)", n)
							}
						}
						checkDamage(t, "Verify", err, c.kind, key, uri)
						if ds.downloads != nil {
							before = ds.downloads()
						}
						errFull := VerifyFull(ctx, st, key, want)
						got, errGet := GetVerified(ctx, st, key, want)
						if (errGet == nil) != (errFull == nil) || errGet != nil && errGet.Error() != errFull.Error() {
							t.Errorf("GetVerified = %v, want VerifyFull's %v", errGet, errFull)
						}
						if errGet == nil && !bytes.Equal(got, data) {
							t.Errorf("GetVerified returned other bytes than were written")
						}
						if ds.downloads != nil && (c.fullKind == 0 || c.fullMsg == hashMsg) && ds.downloads() == before {
							t.Errorf("VerifyFull on GCS made no download request (is the counter broken?)")
						}
						checkDamage(t, "VerifyFull", errFull, c.fullKind, key, uri)
						if c.fullKind != 0 && (errFull == nil || !strings.HasPrefix(errFull.Error(), c.fullMsg)) {
							t.Errorf("VerifyFull error %q, want it to start with %q", errFull, c.fullMsg)
						}
						if err == nil || errFull == nil {
							return
						}
						if c.fullMsg != hashMsg && err.Error() != errFull.Error() {
							t.Errorf("Verify says %q, VerifyFull %q; want the same line", err, errFull)
						}
						if c.fullMsg == hashMsg && !strings.Contains(err.Error(), "mismatch (") {
							t.Errorf("Verify error %q does not say which hash did not match", err)
						}
					})
				}
				ds.replace(t, key, data)
			}
		})
	}
}

// checkDamage checks that err is nil (kind 0) or a *DamagedError of kind
// naming the object, matched by errors.Is as documented.
func checkDamage(t *testing.T, what string, err error, kind Damage, key, uri string) {
	t.Helper()
	if kind == 0 {
		if err != nil {
			t.Errorf("%s of an intact object: %v", what, err)
		}
		return
	}
	var de *DamagedError
	if !errors.As(err, &de) {
		t.Errorf("%s = %v, want a *DamagedError of kind %v", what, err, kind)
		return
	}
	if de.Kind != kind || de.Key != key || de.URI != uri {
		t.Errorf("%s = %+v, want kind %v, key %q, URI %q", what, de, kind, key, uri)
	}
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("%s error %v does not match ErrDamaged", what, err)
	}
	if errors.Is(err, ErrNotExist) != (kind == Missing) {
		t.Errorf("%s error %v: errors.Is(ErrNotExist) = %v for kind %v", what, err, errors.Is(err, ErrNotExist), kind)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "store: "+uri+": "+kind.String()) {
		t.Errorf("%s error %q is not one line starting %q", what, msg, "store: "+uri+": "+kind.String())
	}
}

func TestDigestWriterDescribesTheStoredObject(t *testing.T) {
	ctx := context.Background()
	data := pattern(700 << 10) // several resumable-upload chunks on GCS
	for _, s := range integrityStores() {
		t.Run(s.name, func(t *testing.T) {
			st := s.new(t).st
			w, err := CreateDigest(ctx, st, "extract/f.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			for i := 0; i < len(data); i += 100 << 10 {
				if _, err := w.Write(data[i:min(i+100<<10, len(data))]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			d := w.Digest()
			if d != Sum(data) {
				t.Fatalf("Digest = %+v, want %+v", d, Sum(data))
			}
			got, err := SumObject(ctx, st, "extract/f.bin")
			if err != nil || got != d {
				t.Fatalf("SumObject = %+v, %v; want %+v", got, err, d)
			}
			if err := Verify(ctx, st, "extract/f.bin", d); err != nil {
				t.Fatal(err)
			}
			if _, err := SumObject(ctx, st, "extract/missing"); !errors.Is(err, ErrNotExist) {
				t.Fatalf("SumObject of a missing key: %v, want ErrNotExist", err)
			}
		})
	}
}

func TestVerifyRejectsAMalformedDigest(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	good, err := PutDigest(ctx, m, "k", []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]Digest{
		"zero":              {},
		"negative size":     {Size: -1, SHA256: good.SHA256, Head: good.Head},
		"short hash":        {Size: 4, SHA256: good.SHA256[:10], Head: good.Head},
		"upper-case hash":   {Size: 4, SHA256: strings.ToUpper(good.SHA256), Head: good.Head},
		"head differs":      {Size: 4, SHA256: good.SHA256, Head: strings.Repeat("0", 64)},
		"missing head hash": {Size: 4, SHA256: good.SHA256},
	}
	for name, d := range bad {
		err := Verify(ctx, m, "k", d)
		var de *DamagedError
		if !errors.As(err, &de) || de.Kind != Unverifiable || !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Verify = %v, want an Unverifiable DamagedError", name, err)
		} else if !strings.Contains(err.Error(), "recorded digest is invalid") {
			t.Errorf("%s: error %q does not say the digest is invalid", name, err)
		}
		if b, errGet := GetVerified(ctx, m, "k", d); b != nil || errGet == nil || errGet.Error() != err.Error() {
			t.Errorf("%s: GetVerified = %q, %v; want Verify's error", name, b, errGet)
		}
	}
	if err := Verify(ctx, m, "k", good); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyPassesOnOtherErrors(t *testing.T) {
	// A key the store refuses is a caller's mistake, not damage.
	err := Verify(context.Background(), NewMemory(), "../x", Sum(nil))
	if err == nil || errors.Is(err, ErrDamaged) {
		t.Fatalf("Verify of an invalid key = %v, want a plain key error", err)
	}
	if _, err := PutDigest(context.Background(), NewMemory(), "a//b", nil); err == nil {
		t.Fatal("PutDigest of an invalid key succeeded")
	}
}
