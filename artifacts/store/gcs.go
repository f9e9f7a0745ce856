package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// GCSOptions tunes a GCS store's retries of transient errors (HTTP 408, 429,
// 5xx, connection resets). Zero fields take the defaults.
type GCSOptions struct {
	// InitialBackoff is the first pause before a retry (default 1 s); each
	// later pause doubles, with jitter, up to MaxBackoff (default 30 s).
	InitialBackoff, MaxBackoff time.Duration
	// MaxAttempts bounds the tries of one call, the first included
	// (default 8).
	MaxAttempts int
	// ChunkSize is the resumable-upload chunk size in bytes for Create
	// (default 16 MiB, the storage package's default; each writer holds one
	// chunk in memory).
	ChunkSize int
}

// GCS is a Store over a Cloud Storage bucket, with every key under an
// optional prefix: key k is the object prefix/k.
//
// Writes are atomic because a GCS object appears only when its upload
// completes. Each write carries a precondition: DoesNotExist when the
// object was absent when the write began, GenerationMatch on the generation
// read then when it existed. So a retried upload can never duplicate or
// clobber a concurrent one, and every call may be retried (RetryAlways)
// with exponential backoff.
type GCS struct {
	client *storage.Client
	bucket string
	prefix string // "" or "p/"
	opts   GCSOptions
}

// NewGCS returns a store over bucket (under prefix, "" for the bucket's
// root) with default retry settings. It checks that the bucket exists and
// is reachable, and returns an error saying how to fix it otherwise.
func NewGCS(ctx context.Context, client *storage.Client, bucket, prefix string) (*GCS, error) {
	return NewGCSWithOptions(ctx, client, bucket, prefix, GCSOptions{})
}

// NewGCSWithOptions is NewGCS with explicit retry and upload settings.
func NewGCSWithOptions(ctx context.Context, client *storage.Client, bucket, prefix string, opts GCSOptions) (*GCS, error) {
	if client == nil {
		panic("store: NewGCS: nil client")
	}
	if bucket == "" {
		return nil, errors.New("store: empty GCS bucket name; use gs://bucket/prefix")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("store: gs://%s/%s: bad prefix: %w", bucket, prefix, err)
		}
		prefix += "/"
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 16 << 20
	}
	g := &GCS{client: client, bucket: bucket, prefix: prefix, opts: opts}
	b := client.Bucket(bucket).Retryer(g.retry()...)
	if _, err := b.Attrs(ctx); err != nil {
		if errors.Is(err, storage.ErrBucketNotExist) || httpCode(err) == http.StatusNotFound {
			return nil, fmt.Errorf("store: GCS bucket gs://%s does not exist: %w; create it (gcloud storage buckets create gs://%s) or fix the bucket name", bucket, err, bucket)
		}
		if c := httpCode(err); c == http.StatusForbidden || c == http.StatusUnauthorized {
			return nil, fmt.Errorf("store: no access to GCS bucket gs://%s: %w; grant the account storage.objectAdmin on the bucket or check your credentials", bucket, err)
		}
		return nil, fmt.Errorf("store: cannot reach GCS bucket gs://%s: %w", bucket, err)
	}
	return g, nil
}

// retry returns the retry options every handle carries.
func (g *GCS) retry() []storage.RetryOption {
	return []storage.RetryOption{
		storage.WithBackoff(gax.Backoff{Initial: g.opts.InitialBackoff, Max: g.opts.MaxBackoff, Multiplier: 2}),
		storage.WithMaxAttempts(g.opts.MaxAttempts),
		storage.WithPolicy(storage.RetryAlways),
	}
}

// httpCode returns the HTTP status of a googleapi error, or 0.
func httpCode(err error) int {
	var e *googleapi.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// URI returns "gs://bucket/prefix/key".
func (g *GCS) URI(key string) string {
	return "gs://" + g.bucket + "/" + g.prefix + key
}

// object validates key and returns its handle with retries configured.
func (g *GCS) object(key string) (*storage.ObjectHandle, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if len(g.prefix)+len(key) > maxKeyBytes {
		return nil, fmt.Errorf("store: key %q: object name %s is longer than GCS's %d bytes", key, g.URI(key), maxKeyBytes)
	}
	return g.client.Bucket(g.bucket).Object(g.prefix + key).Retryer(g.retry()...), nil
}

// objErr wraps a GCS error for key, mapping "not found" to ErrNotExist.
func (g *GCS) objErr(op, key string, err error) error {
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%w: %s", ErrNotExist, g.URI(key))
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("store: %s %s: bucket gs://%s does not exist (deleted during the run?): %w", op, g.URI(key), g.bucket, err)
	}
	return fmt.Errorf("store: %s %s: %w", op, g.URI(key), err)
}

// Put uploads data to key. If another writer changes the object between
// the generation check and the upload (precondition failed, HTTP 412), Put
// re-reads the generation and tries again, up to three times.
//
// The upload carries data's CRC-32C, so Cloud Storage rejects it if any
// byte changed on the way.
func (g *GCS) Put(ctx context.Context, key string, data []byte) error {
	crc := crc32.Checksum(data, castagnoli)
	var err error
	for range 3 {
		var w Writer
		w, err = g.create(ctx, key, len(data), &crc)
		if err != nil {
			return err
		}
		if _, err = w.Write(data); err != nil {
			w.Abort()
			return err
		}
		err = w.Commit()
		if httpCode(err) != http.StatusPreconditionFailed {
			return err
		}
	}
	return err
}

// Get downloads the object at key.
func (g *GCS) Get(ctx context.Context, key string) ([]byte, error) {
	o, err := g.object(key)
	if err != nil {
		return nil, err
	}
	r, err := o.NewReader(ctx)
	if err != nil {
		return nil, g.objErr("reading", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, g.objErr("reading", key, err)
	}
	return data, nil
}

// Exists reports whether the object at key exists.
func (g *GCS) Exists(ctx context.Context, key string) (bool, error) {
	o, err := g.object(key)
	if err != nil {
		return false, err
	}
	_, err = o.Attrs(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return false, nil
	}
	if err != nil {
		return false, g.objErr("checking", key, err)
	}
	return true, nil
}

// List returns the sorted keys starting with prefix.
func (g *GCS) List(ctx context.Context, prefix string) ([]string, error) {
	q := &storage.Query{Prefix: g.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		panic("store: " + err.Error())
	}
	it := g.client.Bucket(g.bucket).Retryer(g.retry()...).Objects(ctx, q)
	var keys []string
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("store: listing %s: %w", g.URI(prefix), err)
		}
		keys = append(keys, strings.TrimPrefix(a.Name, g.prefix))
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes the object at key; a missing object is not an error.
func (g *GCS) Delete(ctx context.Context, key string) error {
	o, err := g.object(key)
	if err != nil {
		return err
	}
	if err := o.Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return g.objErr("deleting", key, err)
	}
	return nil
}

// Create starts an upload to key. The object appears only when Commit
// completes the upload; Abort cancels it and nothing appears.
func (g *GCS) Create(ctx context.Context, key string) (Writer, error) {
	return g.create(ctx, key, -1, nil)
}

// create starts an upload; size >= 0 is the known total, which lets small
// objects go up in one request. A non-nil crc is the content's CRC-32C,
// sent so the service checks the upload against it; otherwise the storage
// client computes and sends one as the bytes stream through.
func (g *GCS) create(ctx context.Context, key string, size int, crc *uint32) (Writer, error) {
	o, err := g.object(key)
	if err != nil {
		return nil, err
	}
	attrs, err := o.Attrs(ctx)
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		o = o.If(storage.Conditions{DoesNotExist: true})
	case err != nil:
		return nil, g.objErr("preparing to write", key, err)
	default:
		o = o.If(storage.Conditions{GenerationMatch: attrs.Generation})
	}
	wctx, cancel := context.WithCancel(ctx)
	sw := o.NewWriter(wctx)
	sw.ChunkSize = g.opts.ChunkSize
	if size >= 0 && size < sw.ChunkSize {
		// One request, still buffered so it can be retried (ChunkSize 0
		// would disable retries). The storage package rounds up to 256 KiB.
		sw.ChunkSize = size + 1
	}
	if crc != nil {
		sw.CRC32C, sw.SendCRC32C = *crc, true
	}
	return &gcsWriter{g: g, key: key, w: sw, cancel: cancel}, nil
}

// gcsWriter is one upload in progress.
type gcsWriter struct {
	g      *GCS
	key    string
	w      *storage.Writer
	cancel context.CancelFunc
	done   bool
}

func (w *gcsWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errFinished(w.key)
	}
	n, err := w.w.Write(p)
	if err != nil {
		return n, w.g.objErr("writing", w.key, err)
	}
	return n, nil
}

func (w *gcsWriter) Commit() error {
	if w.done {
		return errFinished(w.key)
	}
	w.done = true
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		if httpCode(err) == http.StatusPreconditionFailed {
			return fmt.Errorf("store: writing %s: the object was changed by another writer during the upload; nothing was written: %w", w.g.URI(w.key), err)
		}
		return w.g.objErr("writing", w.key, err)
	}
	return nil
}

func (w *gcsWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.cancel()  // the upload never completes, so the object never appears
	w.w.Close() // returns context.Canceled; nothing to report
	return nil
}

// StoredChecksum returns the size and CRC-32C Cloud Storage keeps for the
// object at key (one metadata request, no download), so Verify needs no
// download on GCS. ok is false if the service reported no CRC-32C (a zero
// value is taken as none; Verify then reads the object instead).
func (g *GCS) StoredChecksum(ctx context.Context, key string) (size int64, crc uint32, ok bool, err error) {
	o, err := g.object(key)
	if err != nil {
		return 0, 0, false, err
	}
	attrs, err := o.Attrs(ctx)
	if err != nil {
		return 0, 0, false, g.objErr("checking", key, err)
	}
	return attrs.Size, attrs.CRC32C, attrs.CRC32C != 0, nil
}

// Open returns a reader over the object at key, pinned to the generation
// current now: it never mixes bytes of two versions. If the object is
// overwritten or deleted while open, later reads fail with an error
// wrapping ErrNotExist (unless the bucket keeps old versions, in which case
// they still read the opened version).
func (g *GCS) Open(ctx context.Context, key string) (Reader, error) {
	o, err := g.object(key)
	if err != nil {
		return nil, err
	}
	attrs, err := o.Attrs(ctx)
	if err != nil {
		return nil, g.objErr("opening", key, err)
	}
	return &gcsReader{ctx: ctx, g: g, key: key, o: o.Generation(attrs.Generation), size: attrs.Size}, nil
}

// gcsReader reads ranges of one object generation.
type gcsReader struct {
	ctx  context.Context
	g    *GCS
	key  string
	o    *storage.ObjectHandle
	size int64

	mu  sync.Mutex
	seq *storage.Reader // sequential reader, opened on first Read
	pos int64
}

func (r *gcsReader) Size() int64 { return r.size }

// goneErr explains a failed ranged read: the pinned generation is gone
// when the object was overwritten or deleted after Open (a bucket without
// object versioning keeps no old generations).
func (r *gcsReader) goneErr(err error) error {
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%w: %s was overwritten or deleted after it was opened; open it again", ErrNotExist, r.g.URI(r.key))
	}
	return r.g.objErr("reading", r.key, err)
}

// ReadAt reads len(p) bytes at off with one ranged request.
func (r *gcsReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("store: reading %s: negative offset %d", r.g.URI(r.key), off)
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := int64(len(p))
	if rest := r.size - off; want > rest {
		want = rest
	}
	if want == 0 {
		return 0, nil
	}
	rr, err := r.o.NewRangeReader(r.ctx, off, want)
	if err != nil {
		return 0, r.goneErr(err)
	}
	defer rr.Close()
	n, err := io.ReadFull(rr, p[:want])
	if err != nil {
		return n, r.g.objErr("reading", r.key, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Read reads sequentially from the start of the object.
func (r *gcsReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.seq == nil {
		rr, err := r.o.NewRangeReader(r.ctx, r.pos, -1)
		if err != nil {
			return 0, r.goneErr(err)
		}
		r.seq = rr
	}
	n, err := r.seq.Read(p)
	r.pos += int64(n)
	if err != nil && err != io.EOF {
		return n, r.g.objErr("reading", r.key, err)
	}
	return n, err
}

func (r *gcsReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seq != nil {
		err := r.seq.Close()
		r.seq = nil
		return err
	}
	return nil
}

// clients are the process-wide GCS clients Open uses, one per value of
// STORAGE_EMULATOR_HOST (the empty string for Cloud Storage itself): the
// variable is read when a client is made, so a process that points it
// elsewhere (a test starting a new emulator) needs a client of its own.
var clients struct {
	sync.Mutex
	m map[string]*storage.Client
}

// sharedClient returns the GCS client for the current STORAGE_EMULATOR_HOST,
// making it on first use with a background context, because it outlives
// any one call. A failure is not remembered: the next call tries again.
func sharedClient(context.Context) (*storage.Client, error) {
	host := os.Getenv("STORAGE_EMULATOR_HOST")
	clients.Lock()
	defer clients.Unlock()
	if c, ok := clients.m[host]; ok {
		return c, nil
	}
	c, err := storage.NewClient(context.Background())
	if err != nil {
		return nil, err
	}
	if clients.m == nil {
		clients.m = map[string]*storage.Client{}
	}
	clients.m[host] = c
	return c, nil
}
