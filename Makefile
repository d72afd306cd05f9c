# Sonde. `make` alone lists the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/sondehq/sonde/internal/version.Version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
WRAPCHECK_VERSION := v2.13.0
export CGO_ENABLED ?= 0

.DEFAULT_GOAL := help
.PHONY: bench-hammer help build run stop test test-faults test-packages test-helpdesk packages soak lint bench bench-transport bench-agent bench-collector fuzz mutants clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build bin/sonde-agent, bin/sonde-collector, bin/sonde
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/sonde-agent ./cmd/sonde-collector ./cmd/sonde

run: build ## start a collector and an enrolled local agent; prints the UI address and an API key. Ports: SONDE_HTTP=127.0.0.1:7080 SONDE_QUIC=127.0.0.1:7443 make run
	@scripts/run.sh start

stop: ## stop what `make run` started (state stays in .run/; `make clean` removes it)
	@scripts/run.sh stop

test: ## run every test (unit, fixture, end-to-end with the real binaries); as root, installs what they need (scripts/deps.sh)
	@scripts/deps.sh test
	$(GO) test -count=1 ./...

test-faults: ## the long fault tests: kill -9, full disks, lossy and partitioned networks (root, nftables)
	@scripts/deps.sh faults
	$(GO) test -tags faults -count=1 -timeout 5m ./e2e/netns/
	$(GO) test -tags faults -count=1 -run TestHostFirewallRefusesUDP ./agent/client/
	$(GO) test -tags faults -count=1 -v -timeout 30m ./e2e/faults/

packages: ## every release artifact in dist/: binaries, .deb and .rpm, MSI, macOS pkg, collector OCI image, SHA256SUMS (reproducible)
	$(GO) run ./installers/build -out dist

test-packages: ## build the packages and check them with the platforms' own tools (dpkg, rpm, msiinfo, osslsigncode); install the .deb here (root)
	@scripts/deps.sh packages
	$(GO) test -tags packages -count=1 -timeout 20m ./installers/...

test-helpdesk: ## the connectors against a real Request Tracker 5 and Redmine from Debian's packages (root; minutes)
	@scripts/deps.sh helpdesk
	$(GO) test -tags helpdesk -count=1 -v -timeout 20m ./e2e/helpdesk/

soak: ## 1,000 simulated agents with reconnect churn against one collector (minutes)
	$(GO) test -tags soak -count=1 -v -timeout 60m ./e2e/soak/

lint: ## go vet (also for Windows and macOS), staticcheck, and wrapcheck (errors that cross a package name their operation; see .wrapcheck.yaml)
	$(GO) vet -tags faults,soak,bench,helpdesk ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) build -o /dev/null ./cmd/sonde-agent
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/sonde-agent
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags faults,soak,bench,helpdesk ./...
	$(GO) run github.com/tomarrell/wrapcheck/v2/cmd/wrapcheck@$(WRAPCHECK_VERSION) -test=false ./...

bench: ## benchmarks: snapshot cost, probes, protocol encode/decode
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 200x ./agent/... ./protocol/...

bench-transport: ## QUIC against TCP with the real binaries in network namespaces: connect time where UDP is dropped, on-demand round trip, collector memory per agent (root, nftables; minutes)
	$(GO) test -tags bench -count=1 -v -timeout 30m -run TestTransportFigures ./e2e/bench/

BENCH_ARGS ?=
bench-collector: build ## the collector at scale (sonde-loadgen, ~10 min): 1,000 agents (on-demand p50/p99, ingest against raw QUIC), 10,000 (RSS per agent, restart storm). BENCH_ARGS="--dir D --profile-dir P --agents-large 2000 --memory"
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/sonde-loadgen
	bin/sonde-loadgen bench --collector-bin bin/sonde-collector $(BENCH_ARGS)

bench-agent: ## the agent beside node_exporter, real binaries, one run: CPU per on-demand full snapshot against a scrape, memory, idle and health-sample CPU, binary sizes (root, prometheus-node-exporter; ~9 min). AGENT_SNAPSHOTS=200 AGENT_ROUNDS=10 AGENT_IDLE_SECONDS=120 AGENT_HEALTH_SECONDS=30
	@scripts/deps.sh bench
	BENCH_LDFLAGS='$(LDFLAGS)' $(GO) test -tags bench -count=1 -v -timeout 30m -run TestAgentFigures ./e2e/bench/

bench-hammer: build ## one agent asked by 50 callers at full speed for 60 s through the API, budget at its defaults then at its widest: agent CPU, refusals, peak RSS, health gaps, one engineer's round trips (~3 min). HAMMER_CALLERS=50 HAMMER_SECONDS=60
	BENCH_LDFLAGS='$(LDFLAGS)' $(GO) test -tags bench -count=1 -v -timeout 30m -run TestHammer ./e2e/bench/

FUZZTIME ?= 60s
FUZZJOBS ?= 2
fuzz: ## run each fuzz target for FUZZTIME (default 60s), FUZZJOBS (default 2) at a time
	@FUZZTIME=$(FUZZTIME) FUZZJOBS=$(FUZZJOBS) GO=$(GO) scripts/fuzz.sh

MUTANTJOBS ?= 2
MUTANTBUDGET ?= 40m
mutants: ## mutation testing of the core packages against their floors (UPDATE=1 writes MUTATION.md)
	@MUTANTJOBS=$(MUTANTJOBS) MUTANTBUDGET=$(MUTANTBUDGET) GO=$(GO) scripts/mutants.sh

clean: ## remove build output and `make run` state
	rm -rf bin .run
