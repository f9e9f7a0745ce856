package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/fabeam/fabeam/artifacts/store"
)

var (
	regMu      sync.Mutex
	registered = map[string]store.Store{}
	regCount   int
)

func init() { store.RegisterScheme("fault", openRegistered) }

// Register makes s what store.Open returns for the URI it returns,
// "fault://<name>-<n>" with n unique per call (callers that cache stores by
// URI, as the pipeline's stages do, never see an earlier test's store). A
// pipeline given that URI as its output location writes through s. Stores
// stay registered for the life of the process.
func Register(name string, s store.Store) string {
	if name == "" || strings.Contains(name, "/") {
		panic(fmt.Sprintf("storetest: Register(%q): the name must be non-empty and have no /", name))
	}
	regMu.Lock()
	defer regMu.Unlock()
	regCount++
	id := fmt.Sprintf("%s-%d", name, regCount)
	registered[id] = s
	return "fault://" + id
}

func openRegistered(_ context.Context, uri string) (store.Store, error) {
	id := strings.TrimPrefix(uri, "fault://")
	regMu.Lock()
	s, ok := registered[id]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("storetest: %q names no registered store (Register returns the URIs; they take no key prefix)", uri)
	}
	return s, nil
}
