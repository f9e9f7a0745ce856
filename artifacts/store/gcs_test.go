package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
)

// testBucket is the bucket every emulator test writes to.
const testBucket = "fabeam-test"

// emulator is an in-process fake-gcs-server listening on 127.0.0.1, with
// an HTTP front that can be told to answer 503 to the next N requests.
type emulator struct {
	srv   *fakestorage.Server
	front *httptest.Server
	fail  atomic.Int64 // requests still to fail with 503
	seen  atomic.Int64 // 503s served
	// downloads counts requests for object content (XML API reads and
	// JSON API alt=media), as opposed to metadata, listing or uploads.
	downloads atomic.Int64
	// corrupt, when set, makes the front change the bytes "CORRUPT-ME" to
	// "CORRUPTED!" in every upload it forwards, as a bad link would.
	corrupt atomic.Bool
}

// newEmulator starts the fake GCS server and its failing front. PublicHost
// must be 127.0.0.1: the storage client downloads through the XML API on
// the endpoint's host, which the emulator serves only for its public host.
func newEmulator(t *testing.T) *emulator {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		Port:       0,
		PublicHost: "127.0.0.1",
		Writer:     io.Discard,
	})
	if err != nil {
		t.Fatalf("starting fake GCS server: %v", err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	e := &emulator{srv: srv}
	inner := srv.HTTPHandler()
	e.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.fail.Add(-1) >= 0 {
			e.seen.Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":503,"message":"injected: service unavailable"}}`)
			return
		}
		e.fail.Store(0)
		if r.Method == http.MethodGet && (r.URL.Query().Get("alt") == "media" ||
			!strings.HasPrefix(r.URL.Path, "/storage/v1/") && !strings.HasPrefix(r.URL.Path, "/upload/")) {
			e.downloads.Add(1)
		}
		if e.corrupt.Load() && strings.HasPrefix(r.URL.Path, "/upload/") && r.Body != nil {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(bytes.ReplaceAll(body, []byte("CORRUPT-ME"), []byte("CORRUPTED!"))))
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(e.front.Close)
	return e
}

// client returns a storage client talking to the emulator's front.
func (e *emulator) client(t *testing.T) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(),
		option.WithEndpoint(e.front.URL+"/storage/v1/"),
		option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fastRetry keeps retry pauses short so tests stay fast.
var fastRetry = GCSOptions{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxAttempts: 6, ChunkSize: 256 << 10}

// newGCS returns a GCS store under a fresh prefix of the emulator's bucket.
func (e *emulator) newGCS(t *testing.T, c *storage.Client, prefix string) *GCS {
	t.Helper()
	g, err := NewGCSWithOptions(context.Background(), c, testBucket, prefix, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// objectNames lists every object name in the bucket, straight from the
// emulator's backend.
func (e *emulator) objectNames(t *testing.T) []string {
	t.Helper()
	objs, _, err := e.srv.ListObjects(testBucket, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	return names
}

func TestGCSConformance(t *testing.T) {
	e := newEmulator(t)
	c := e.client(t)
	n := 0
	conformance(t, false, func(t *testing.T) Store {
		n++
		return e.newGCS(t, c, fmt.Sprintf("conf/%d", n))
	})
}

func TestGCSKeysLiveUnderThePrefix(t *testing.T) {
	e := newEmulator(t)
	g := e.newGCS(t, e.client(t), "run1/out")
	if err := g.Put(context.Background(), "a/b.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if got := e.objectNames(t); len(got) != 1 || got[0] != "run1/out/a/b.json" {
		t.Fatalf("bucket holds %q, want [run1/out/a/b.json]", got)
	}
	if u := g.URI("a/b.json"); u != "gs://"+testBucket+"/run1/out/a/b.json" {
		t.Fatalf("URI = %q", u)
	}
}

func TestGCSMissingBucketIsAClearError(t *testing.T) {
	e := newEmulator(t)
	_, err := NewGCS(context.Background(), e.client(t), "no-such-bucket", "p")
	if err == nil {
		t.Fatal("NewGCS on a missing bucket succeeded")
	}
	for _, want := range []string{"gs://no-such-bucket", "does not exist", "create it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestGCSTransient503sAreRetriedThenSucceed(t *testing.T) {
	e := newEmulator(t)
	g := e.newGCS(t, e.client(t), "retry")
	ctx := context.Background()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	steps := []struct {
		name string
		do   func() error
	}{
		{"Put", func() error { return g.Put(ctx, "k", payload) }},
		{"Get", func() error {
			got, err := g.Get(ctx, "k")
			if err == nil && !bytes.Equal(got, payload) {
				err = errors.New("wrong bytes")
			}
			return err
		}},
		{"Exists", func() error { _, err := g.Exists(ctx, "k"); return err }},
		{"List", func() error {
			keys, err := g.List(ctx, "")
			if err == nil && (len(keys) != 1 || keys[0] != "k") {
				err = fmt.Errorf("List = %q", keys)
			}
			return err
		}},
		{"Overwrite", func() error { return g.Put(ctx, "k", payload[:10]) }},
		{"Delete", func() error { return g.Delete(ctx, "k") }},
	}
	for _, s := range steps {
		before := e.seen.Load()
		e.fail.Store(3)
		if err := s.do(); err != nil {
			t.Fatalf("%s after three 503s: %v", s.name, err)
		}
		if got := e.seen.Load() - before; got != 3 {
			t.Fatalf("%s: the front served %d 503s, want 3 (test harness broken)", s.name, got)
		}
	}
	if names := e.objectNames(t); len(names) != 0 {
		t.Fatalf("bucket holds %q after Delete", names)
	}
}

func TestGCSPersistent503FailsAndWritesNothing(t *testing.T) {
	e := newEmulator(t)
	g := e.newGCS(t, e.client(t), "down")
	e.fail.Store(1 << 40)
	err := g.Put(context.Background(), "k", []byte("data"))
	e.fail.Store(0)
	if err == nil {
		t.Fatal("Put succeeded while the server answered 503")
	}
	if !strings.Contains(err.Error(), "gs://"+testBucket+"/down/k") {
		t.Errorf("error %q does not name the object", err)
	}
	if got := e.seen.Load(); got != int64(fastRetry.MaxAttempts) {
		t.Errorf("server saw %d attempts, want MaxAttempts=%d", got, fastRetry.MaxAttempts)
	}
	if names := e.objectNames(t); len(names) != 0 {
		t.Fatalf("bucket holds %q after a failed Put", names)
	}
}

func TestGCSResumableUploadAppearsOnlyOnCommit(t *testing.T) {
	e := newEmulator(t)
	g := e.newGCS(t, e.client(t), "big")
	ctx := context.Background()
	// 700 KiB with 256 KiB chunks: two chunks go up before Commit.
	data := make([]byte, 700<<10)
	for i := range data {
		data[i] = byte(i % 251)
	}
	for _, commit := range []bool{false, true} {
		w, err := g.Create(ctx, "feat.bin")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(data); i += 100 << 10 {
			if _, err := w.Write(data[i:min(i+100<<10, len(data))]); err != nil {
				t.Fatal(err)
			}
		}
		if names := e.objectNames(t); len(names) != 0 {
			t.Fatalf("object visible before Commit: %q", names)
		}
		if !commit {
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			if names := e.objectNames(t); len(names) != 0 {
				t.Fatalf("object visible after Abort: %q", names)
			}
			continue
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		got, err := g.Get(ctx, "feat.bin")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get after Commit: %d bytes, %v; want the %d written", len(got), err, len(data))
		}
	}
}

func TestGCSConcurrentWriterLosesOnPrecondition(t *testing.T) {
	ctx := context.Background()
	for _, existed := range []bool{false, true} {
		t.Run(fmt.Sprintf("existed=%v", existed), func(t *testing.T) {
			e := newEmulator(t)
			g := e.newGCS(t, e.client(t), "race")
			if existed {
				if err := g.Put(ctx, "k", []byte("v1")); err != nil {
					t.Fatal(err)
				}
			}
			w, err := g.Create(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("slow writer"))
			if err := g.Put(ctx, "k", []byte("fast writer")); err != nil {
				t.Fatal(err)
			}
			err = w.Commit()
			if err == nil || !strings.Contains(err.Error(), "changed by another writer") {
				t.Fatalf("Commit after a concurrent write = %v, want a precondition error", err)
			}
			got, _ := g.Get(ctx, "k")
			if string(got) != "fast writer" {
				t.Fatalf("object = %q, want the concurrent writer's %q", got, "fast writer")
			}
		})
	}
}

func TestOpenGSURIUsesTheEmulatorHost(t *testing.T) {
	e := newEmulator(t)
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(e.front.URL, "http://"))
	s, err := Open(context.Background(), "gs://"+testBucket+"/via/uri")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if got := e.objectNames(t); len(got) != 1 || got[0] != "via/uri/x" {
		t.Fatalf("bucket holds %q, want [via/uri/x]", got)
	}
}

func TestGCSRejectsAnUploadCorruptedOnTheWay(t *testing.T) {
	e := newEmulator(t)
	g := e.newGCS(t, e.client(t), "crc")
	ctx := context.Background()
	data := []byte("model bytes CORRUPT-ME end")
	e.corrupt.Store(true)
	err := g.Put(ctx, "m.safetensors", data)
	e.corrupt.Store(false)
	if err == nil {
		got, _ := g.Get(ctx, "m.safetensors")
		t.Fatalf("Put through a corrupting link succeeded; the bucket holds %q", got)
	}
	if names := e.objectNames(t); len(names) != 0 {
		t.Fatalf("bucket holds %q after a rejected upload", names)
	}
	// The front does corrupt: without it the same Put stores the bytes.
	if err := g.Put(ctx, "m.safetensors", data); err != nil {
		t.Fatal(err)
	}
	e.corrupt.Store(true)
	defer e.corrupt.Store(false)
	w, err := g.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	// A streamed upload is checked too: the storage client sends the
	// CRC-32C it computed as the bytes went through.
	w.Write(data)
	if err := w.Commit(); err == nil {
		t.Fatal("a streamed upload through a corrupting link was accepted")
	}
	if names := e.objectNames(t); len(names) != 1 {
		t.Fatalf("bucket holds %q, want only the intact object", names)
	}
}
