# make test: what CI runs (.ci/run). Tests start their own throwaway redis-server on a free
# port and an in-process Kafka (kfake); set KAFKA_BROKERS to use a real broker instead.
GO ?= go
PKGS := ./...

.PHONY: test vet lint fuzz bench check-deps build

build:
	$(GO) build -o bin/offpush ./cmd/offpush

check-deps:
	@command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || { \
	  echo "make test needs redis-server and redis-cli on PATH (tests start throwaway servers"; \
	  echo "and clusters on free ports)."; \
	  echo "Install them: sudo apt-get install -y redis-server   (macOS: brew install redis)"; \
	  exit 1; }
	@command -v node >/dev/null 2>&1 || echo "make test: node is not on PATH: the APNs churn tests against Node's http2 (internal/nodepeer) will be SKIPPED. Install it: sudo apt-get install -y nodejs"

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 $(PKGS)
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod and go.sum are not tidy: run go mod tidy (go mod tidy -diff shows what changes)"; exit 1; }

test: check-deps vet
	$(GO) test -race -timeout 15m $(PKGS)

# Fuzzing of every fuzz target, FUZZTIME each; a failing input lands in the package's
# testdata/fuzz and becomes a regression test of plain `go test`. The budget is a count of
# executions: with a duration, Go 1.26's fuzzing coordinator can fail a target with "context
# deadline exceeded" when the time runs out while a worker is busy (go.dev/issue/75804,
# fixed in Go 1.27), which a loaded machine makes likely.
FUZZTIME ?= 20000x
FUZZ_TARGETS := ./event:FuzzDecode ./event:FuzzDecodeFast ./render:FuzzRender ./stateapi:FuzzHandlers
fuzz: check-deps
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$pkg $$fn for $(FUZZTIME)"; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./event ./render ./presence ./apns/...

# Fault scenarios (chaos/): real workers, redis-server and the APNs simulator around an
# in-process Kafka, every scenario with the full workload; prints the ledger table at the end.
.PHONY: chaos
chaos: check-deps
	OFFPUSH_CHAOS=1 $(GO) test ./chaos -run . -v -count=1 -timeout 30m
