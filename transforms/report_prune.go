package transforms

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/fabeam/fabeam/artifacts/store"
)

// The presentation layer is what the report writes for people: runs/ and
// figures/ beside results.json. It is rewritten as a set: after a report,
// those folders hold exactly what this report wrote, and files an earlier
// study left there (a rule or seed no longer run, a figure no longer drawn)
// are deleted. Nothing is lost by that: a file under runs/ is a copy of an
// artifact that stays in the stage cache (train/<key>/), and figures are
// drawn again from results.json by any report.
var presentationDirs = []string{RunsDir, FiguresDir}

// recordingStore is a store that remembers every key written through it
// (by Put, or by Create whether or not the write is later committed).
type recordingStore struct {
	store.Store
	mu      sync.Mutex
	written map[string]bool
}

func newRecordingStore(st store.Store) *recordingStore {
	return &recordingStore{Store: st, written: map[string]bool{}}
}

func (s *recordingStore) record(key string) {
	s.mu.Lock()
	s.written[key] = true
	s.mu.Unlock()
}

// Put writes through and records key.
func (s *recordingStore) Put(ctx context.Context, key string, data []byte) error {
	s.record(key)
	return s.Store.Put(ctx, key, data)
}

// Create writes through and records key.
func (s *recordingStore) Create(ctx context.Context, key string) (store.Writer, error) {
	s.record(key)
	return s.Store.Create(ctx, key)
}

// prunePresentation deletes every object under the presentation folders
// that this report did not write, and logs one line naming how many and the
// first few. It runs after results.json, the report and the manifest are
// written, so a failure before it leaves the old set in place.
func prunePresentation(ctx context.Context, rec *recordingStore) error {
	var stale []string
	for _, dir := range presentationDirs {
		keys, err := rec.Store.List(ctx, dir+"/")
		if err != nil {
			return fmt.Errorf("report: listing %s: %w", rec.URI(dir), err)
		}
		for _, k := range keys {
			if !rec.written[k] {
				stale = append(stale, k)
			}
		}
	}
	for _, k := range stale {
		if err := rec.Store.Delete(ctx, k); err != nil {
			return fmt.Errorf("report: removing the stale %s: %w", rec.URI(k), err)
		}
	}
	if len(stale) > 0 {
		shown := stale[:min(len(stale), 3)]
		more := ""
		if len(stale) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(stale)-len(shown))
		}
		log.Infof(ctx, "report: removed %d file(s) of an earlier study that this one does not describe: %s%s (their stage artifacts stay cached)",
			len(stale), strings.Join(shown, ", "), more)
	}
	return nil
}
