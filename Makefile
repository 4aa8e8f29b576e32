# tablecast: the commands a developer and CI run.
GO ?= go
PKGS := ./...

.PHONY: all build run test test-short vet lint bench fuzz clean release release-check

# The version stamped into release binaries; without it (go build, go
# install) `tablecast version` reads the module's version from the build info.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST ?= dist
# Every platform `make release` builds: static binaries (CGO_ENABLED=0; the
# SQLite driver is pure Go).
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
# The two `make test` cross-builds, to catch a change that breaks the
# static build elsewhere (linux/amd64 is what the tests build anyway).
CHECK_PLATFORMS ?= darwin/arm64 windows/arm64

all: vet test

build:
	$(GO) build -o bin/tablecast ./cmd/tablecast

run:
	$(GO) run ./cmd/tablecast serve --dev

# The test command of the README and of CI: vet, then every test with the
# race detector. Tests that need PostgreSQL or Redis read TABLECAST_TEST_POSTGRES
# and TABLECAST_TEST_REDIS (.ci/run sets them).
test: vet release-check
	$(GO) test -race -count=1 -timeout 8m $(PKGS)

test-short:
	$(GO) test -count=1 -short $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# staticcheck, at a pinned version, fetched and built by the go command.
# A finding that is meant is kept with a //lint:ignore comment giving why.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(STATICCHECK) $(PKGS)

# Go benchmarks of the hot paths (see docs/benchmarks.md for the figures).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/hub/ ./internal/stream/ ./internal/dialect/... ./internal/table/ ./internal/ot/json0/

# A short run of every fuzz target, each named exactly (-fuzz takes a
# regular expression and refuses one that matches two targets).
FUZZTIME ?= 20s
FUZZ_TARGETS := \
	./internal/transport/:FuzzParser \
	./internal/dialect/native/:FuzzDecode \
	./internal/dialect/native/:FuzzSubmitData \
	./internal/auth/:FuzzVerify \
	./internal/table/:FuzzNormalize \
	./internal/table/:FuzzNormalizeString \
	./internal/table/:FuzzFilterCompile \
	./internal/dialect/baserow/:FuzzClientMessage \
	./internal/dialect/sharedb/:FuzzDecode \
	./internal/event/:FuzzParseCollection \
	./internal/event/:FuzzHead \
	./internal/hub/redisbroker/:FuzzDecodeEnvelope \
	./internal/ot/json0/:FuzzConvergence \
	./internal/ot/json0/:FuzzDecodeApply \
	./internal/ot/json0/:FuzzDecodeOp \
	./pkg/client/:FuzzMessageDecode \
	./internal/store/:FuzzCellsOf
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t#*:}; \
	  echo "fuzz $$name in $$pkg"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Static binaries for every platform in $(DIST):
# tablecast-<version>-<os>-<arch>[.exe].
release:
	@mkdir -p $(DIST)
	@set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
	  out=$(DIST)/tablecast-$(VERSION)-$$os-$$arch$$ext; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
	    -ldflags "-s -w -X main.version=$(VERSION)" -o $$out ./cmd/tablecast; \
	  echo "built $$out"; \
	done

# The release build for CHECK_PLATFORMS, into a temporary directory.
release-check:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory release PLATFORMS="$(CHECK_PLATFORMS)" DIST="$$tmp" VERSION=check

clean:
	rm -rf bin $(DIST)
