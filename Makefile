# fabeam — common tasks. `make test` is what CI runs.
GO ?= go
PKGS := ./...
FUZZTIME ?= 10m

.PHONY: build test vet bench quick reproduce publish check-published smoke fuzz fmt

# In a git checkout, the studies' binaries are stamped with the commit
# (go run stamps nothing by default), so manifest.json records it as
# vcs_revision, and vcs_modified when the tree had uncommitted changes.
# Stamping changes no result and no stage key.
BUILDVCS := $(shell git rev-parse --is-inside-work-tree >/dev/null 2>&1 && echo -buildvcs=true)

build:
	$(GO) build $(PKGS)

vet:
	$(GO) vet $(PKGS)

test: vet
	$(GO) test -timeout 20m $(PKGS)

# Benchmarks: kernels and training steps. Compare runs with benchstat.
# bench/compare runs fabeam against PyTorch side by side (see bench/RESULTS.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./engine/gemm/ ./engine/nn/ | tee bench/latest.txt

# The study with the paper's chosen hyper-parameters, 10 epochs.
quick:
	$(GO) run $(BUILDVCS) ./pipelines/reproduce --runner=direct --preset=quick

# The published reproduction (reproduction/paper-3seeds): the paper's
# protocol over seeds 0-2. DATA is the CIFAR-10 binary folder (default: the
# command's, downloaded and checksummed when missing).
DATA ?= ./data/cifar-10-batches-bin
reproduce:
	$(GO) run $(BUILDVCS) ./pipelines/reproduce --runner=direct --seeds=3 --data=$(DATA) --out=./out/paper

# Copies the finished study's small outputs from $(STUDY) (default ./out/paper) into
# reproduction/paper-3seeds (no checkpoints, no features). The copy is
# checked first for what a published reproduction must hold (every rule
# and seed, the grid, CKA and the noise ceiling) and replaces the
# previous one whole only if it passes; publish refuses before the study's
# report exists. Publishing the default folder also rewrites the README's
# block of published results (Table 1 and the CKA diagonals) from the new
# results.json; a test keeps the two equal.
STUDY ?= ./out/paper
PUBLISHED ?= reproduction/paper-3seeds
publish:
	@test -f $(STUDY)/report.md -a -f $(STUDY)/results.json -a -f $(STUDY)/manifest.json \
		|| { echo "publish: $(STUDY) has no finished study (report.md, results.json, manifest.json); run make reproduce first" >&2; exit 1; }
	rm -rf $(PUBLISHED).tmp && mkdir -p $(PUBLISHED).tmp/figures
	cp $(STUDY)/report.md $(STUDY)/report.html $(STUDY)/results.json $(STUDY)/manifest.json $(PUBLISHED).tmp/
	cp $(STUDY)/figures/*.png $(PUBLISHED).tmp/figures/
	FABEAM_PUBLISHED=$(abspath $(PUBLISHED).tmp) $(GO) test -count=1 -run '^TestThePublishedReproductionIsComplete$$' ./transforms/ \
		|| { echo "publish: $(STUDY) is not a complete paper study; $(PUBLISHED) left as it was" >&2; rm -rf $(PUBLISHED).tmp; exit 1; }
	rm -rf $(PUBLISHED) && mv $(PUBLISHED).tmp $(PUBLISHED)
ifeq ($(PUBLISHED),reproduction/paper-3seeds)
	FABEAM_UPDATE_README=1 $(GO) test -count=1 -run '^TestTheReadmeShowsThePublishedResults$$' ./transforms/
endif

# Checks the published reproduction with a smaller study of your own:
# by default bp for seed 0 (its six grid points of 3 epochs, then 50
# epochs), 13–16 minutes on two cores, into ./out/check, then compares
# every number it produced with the published results.json bit for bit.
# CHECK_RULES (comma-separated) and CHECK_SEEDS (seeds 0..N-1) choose more.
CHECK_RULES ?= bp
CHECK_SEEDS ?= 1
check-published:
	@test -f $(PUBLISHED)/results.json || { echo "check-published: $(PUBLISHED)/results.json does not exist: nothing is published to check" >&2; exit 1; }
	$(GO) run $(BUILDVCS) ./pipelines/reproduce --runner=direct --rules=$(CHECK_RULES) --seeds=$(CHECK_SEEDS) --data=$(DATA) --out=./out/check
	$(GO) run ./pipelines/checkresults $(PUBLISHED) ./out/check

smoke:
	$(GO) run $(BUILDVCS) ./pipelines/reproduce --runner=direct --preset=smoke --out=./out-smoke

# Every fuzz target, one after another, FUZZTIME each (default 10m; e.g.
# make fuzz FUZZTIME=30s). `make test` replays their committed corpora.
FUZZ_TARGETS := FuzzRead:./engine/cifar/ FuzzReadSafetensors:./artifacts/format/ \
	FuzzParseFlags:./pipelines/reproduce/ FuzzValidateKey:./artifacts/store/

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg; \
	done

fmt:
	gofmt -l -w .
