# fabeam — common tasks. `make test` is what CI runs.
GO ?= go
PKGS := ./...
FUZZTIME ?= 10m

.PHONY: build test vet bench quick reproduce smoke fuzz fmt

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
	$(GO) run ./pipelines/reproduce --runner=direct --preset=quick

# The published reproduction (reproduction/paper-3seeds): the paper's
# protocol over seeds 0-2. DATA is the CIFAR-10 binary folder (default: the
# command's, downloaded and checksummed when missing).
DATA ?= ./data/cifar-10-batches-bin
reproduce:
	$(GO) run ./pipelines/reproduce --runner=direct --seeds=3 --data=$(DATA) --out=./out/paper

smoke:
	$(GO) run ./pipelines/reproduce --runner=direct --preset=smoke --out=./out-smoke

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
