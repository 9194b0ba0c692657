# make test: what CI runs (.ci/run). Tests start their own throwaway redis-server on a free
# port and an in-process Kafka (kfake); set KAFKA_BROKERS to use a real broker instead.
GO ?= go
PKGS := ./...

.PHONY: test vet lint fuzz bench check-deps build

build:
	$(GO) build -o bin/offpush ./cmd/offpush

check-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "make test needs redis-server on PATH (tests start a throwaway one on a free port)."; \
	  echo "Install it: sudo apt-get install -y redis-server   (macOS: brew install redis)"; \
	  exit 1; }

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 $(PKGS)

test: check-deps vet
	$(GO) test -race -timeout 15m $(PKGS)

# Short fuzzing of every fuzz target (FUZZTIME each); found inputs land in testdata/fuzz.
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./event -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./event ./render ./presence
