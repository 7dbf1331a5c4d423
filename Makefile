# berth: build, test, lint and benchmark. `make help` lists the targets.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/berth
# The runtime helper (monitor, init, workload-exec) installed beside berth.
BIN_RUNTIME := bin/berth-runtime
# staticcheck comes from the Go module proxy at a version that builds with Go 1.26.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test test-unit test-e2e vet lint bench help clean

all: build

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build static bin/berth and its runtime helper bin/berth-runtime
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_RUNTIME) ./cmd/berth-runtime

vet: ## go vet every package
	$(GO) vet ./...

# berth's cgroup parent in each hierarchy: containers started by the tests create it; the test run
# removes it afterwards, when it did not exist before and is empty (rmdir), once every package's
# tests are done (a package removing it on its own would race the others' containers), waiting a
# few seconds for monitors of containers the tests ended to finish removing their own cgroups.
CGROUP_PARENTS = /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth

test: build vet ## vet, unit, root integration and e2e tests (root-only tests skip, naming why, when not root)
	@before="$$(ls -d $(CGROUP_PARENTS) 2>/dev/null | tr "\n" " ")"; \
	BERTH_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -race -timeout 45m ./...; rc=$$?; \
	(cd examples/todo && $(GO) test -count=1 -race ./...) || rc=1; \
	if [ "$${BERTH_K8S_TESTS:-1}" = 1 ]; then \
		test/k8s/build-tools.sh >/dev/null && \
		(cd test/k8s && BERTH_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 60m ./...) || rc=1; \
	else echo "test/k8s: skipped (BERTH_K8S_TESTS=$${BERTH_K8S_TESTS})"; fi; \
	for try in 1 2 3 4 5 6 7 8 9 10; do \
		left=0; \
		for d in $$(ls -d $(CGROUP_PARENTS) 2>/dev/null); do \
			case " $$before " in *" $$d "*) ;; *) rmdir "$$d" 2>/dev/null || left=1 ;; esac; \
		done; \
		[ $$left = 0 ] && break; sleep 0.5; \
	done; \
	exit $$rc

test-unit: ## Unit tests only (no e2e, no root)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)
	cd examples/todo && $(GO) test -count=1 ./...

test-e2e: build ## e2e tests against bin/berth
	BERTH_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 45m ./e2e/...

lint: ## gofmt, go vet (Linux and another OS) and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...   # other OSes must build and say "not supported"
	$(GO) run $(STATICCHECK) ./...

bench: build ## Benchmarks: project load, 200 MB pull, run --rm latency, monitor RSS, compose up/down, builds (beside Docker where it runs)
	BERTH_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# demo/run.sh's argument: empty (bring the demo up), or clean (take it down, volume included).
DEMO_ARGS ?=

.PHONY: demo
demo: ## Build berth, make the base images, run examples/todo (app + MariaDB) and use it (DEMO_ARGS=clean: remove it)
	./demo/run.sh $(DEMO_ARGS)

clean: ## Remove build output
	rm -rf bin
