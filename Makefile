# Paddock: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/paddock-zk/paddock/internal/cli.Version=$(VERSION)
# Packages whose tests talk to ZooKeeper run with the race detector.
RACE_PKGS := . ./zkclient/... ./recipe/... ./worker/... ./internal/... ./cmd/... ./examples/...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: fuzz all build install image compose-up compose-down deploy-test zookeeper tools demo test test-leaders unit check bench bench-ab bench-scale bench-large bench-bundle soak soak-record cluster-up cluster-down cluster-status cluster-logs clean help

all: build

help:
	@echo "make demo     build, start a local ZooKeeper + 2 masters + 2 workers, run tasks, stop everything"
	@echo "make test     everything CI runs (installs ZooKeeper if missing)"
	@echo "make build    build bin/master bin/worker bin/client bin/election (and bin/wordcount-worker, an example)"
	@echo "make e2e      the fault scenarios with ZooKeeper in Docker containers (test/e2e)"
	@echo "make scenarios  run them and regenerate docs/SCENARIOS.md from the measurements"
	@echo "make soak     the randomized fault soak for SOAK_DURATION (default 10m); PADDOCK_SOAK_SEED=<seed> replays one"
	@echo "make test-leaders  test/process and test/e2e with TEST_LEADERS (default 3) masters leading at once"
	@echo "make soak-record  keep the summaries of the last soak runs in docs/soak and docs/SCENARIOS.md"
	@echo "make cluster-up / cluster-status / cluster-down   a local cluster that stays up to play with"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...
	$(GO) build -o $(BIN)/wordcount-worker ./examples/wordcount/worker

zookeeper:
	@scripts/ensure-zookeeper.sh

# tools: the other real components the tests drive, from Debian's packages:
# Prometheus scrapes the daemons, Chromium loads the status page.
tools:
	@scripts/ensure-deb.sh prometheus prometheus
	@scripts/ensure-deb.sh /usr/bin/chromium chromium
	@scripts/ensure-deb.sh systemd-analyze systemd

demo: zookeeper build
	@scripts/demo.sh

# RACE is -race for every package but the ZooKeeper client library's own:
# go-zookeeper v1.0.4 (the newest) reads and writes its lastZxid from two
# goroutines on every reconnection with watches set (sendSetWatches and
# recvLoop; upstream pull request #35), which fails any -race test that
# cuts a connection, at random. Its code is left uninstrumented; ours, and
# every synchronisation through channels and the sync package, stays
# checked.
RACE := -race -gcflags='github.com/go-zookeeper/zk=-race=false'

# check: formatting and vet, cheap and first.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# test: unit and integration tests of every package against real ZooKeeper
# servers the tests start, with -race; test/library, a module of its own
# that imports zkclient and recipe as an outside program would; then the
# process-level fault scenarios.
test: zookeeper tools check
	$(GO) test $(RACE) -count=1 -timeout 15m $(RACE_PKGS)
	cd test/library && $(GO) test -count=1 ./...
	$(GO) test -count=1 -timeout 15m ./test/process/...
	$(GO) test -count=1 -timeout 10m ./test/soak/...
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory deploy-test

# test-leaders: every process-level and e2e scenario with master.leaders
# at TEST_LEADERS (proctest.LeadersEnv): each deployment sets it before its
# first master and waits until the partitions are dealt, so every check
# (nothing lost, exactly once, fencing, failover bounds) must hold with
# several leaders as with one. Not part of `make test` (about 12 minutes
# on 2 cores); `make test` runs a few of the fault-heaviest scenarios with
# 3 leaders (test/process/leaders_test.go).
TEST_LEADERS ?= 3
test-leaders: zookeeper tools zk-image
	PADDOCK_TEST_LEADERS=$(TEST_LEADERS) $(GO) test -count=1 -timeout 15m ./test/process/...
	PADDOCK_TEST_LEADERS=$(TEST_LEADERS) $(GO) test -count=1 -timeout 10m ./test/e2e/...

# zk-image: the ZooKeeper image for test/e2e: $PADDOCK_ZK_IMAGE (default
# zookeeper:3.8) if present or pullable, else one built from the host's
# ZooKeeper with no registry (only when missing).
zk-image: zookeeper
	@deploy/zookeeper-image/ensure.sh >/dev/null

# e2e: fault scenarios with ZooKeeper in Docker containers (needs Docker).
e2e: zk-image
	$(GO) test -count=1 -timeout 10m ./test/e2e/...

# scenarios: run test/e2e keeping its evidence, then write docs/SCENARIOS.md.
scenarios: zk-image
	@rm -rf .tmp/scenarios
	@status=0; PADDOCK_E2E_EVIDENCE=$(CURDIR)/.tmp/scenarios $(GO) test -count=1 -timeout 10m ./test/e2e/... || status=$$?; \
	$(GO) run ./test/e2e/scenariosdoc -in .tmp/scenarios -out docs/SCENARIOS.md && exit $$status

# fuzz: every fuzz target for FUZZTIME (default 30s) each; new failures
# land in the package's testdata/fuzz, which make test then replays.
fuzz:
	@scripts/fuzz.sh

# soak: the randomized fault soak (test/soak): a 3-server ensemble, 3
# masters, 4 workers, a load and a nemesis for SOAK_DURATION, then the
# history checker. `make test` runs it for 75 s. Its summary goes to
# .tmp/soak; `make soak-record` keeps it in docs/soak and docs/SCENARIOS.md.
# A failed run keeps its processes' logs and the ZooKeeper servers'
# directories in .tmp/soak/logs.
# For hours: make soak SOAK_DURATION=4h SOAK_TIMEOUT=5h. With every master
# leading a share of the partitions (master.leaders): make soak SOAK_LEADERS=3.
SOAK_DURATION ?= 10m
SOAK_TIMEOUT ?= 40m
SOAK_LEADERS ?= 1
soak: zookeeper
	PADDOCK_SOAK_LEADERS=$(SOAK_LEADERS) PADDOCK_SOAK_OUT=$(CURDIR)/.tmp/soak PADDOCK_PROCTEST_LOGS=$(CURDIR)/.tmp/soak/logs $(GO) test -count=1 -v -timeout $(SOAK_TIMEOUT) -run TestSoak ./test/soak/ -soak.duration=$(SOAK_DURATION)

soak-record:
	@ls .tmp/soak/soak-*.json >/dev/null 2>&1 || { echo "no soak summary in .tmp/soak: run make soak first"; exit 1; }
	@mkdir -p docs/soak && cp .tmp/soak/soak-*.json docs/soak/
	$(GO) run ./test/e2e/scenariosdoc -soak-only -soak docs/soak -out docs/SCENARIOS.md

unit:
	$(GO) test -count=1 -short ./internal/task/ ./internal/master/ ./internal/cli/

cluster-up: zookeeper build
	@scripts/cluster.sh up

cluster-status:
	@scripts/cluster.sh status

cluster-down:
	@scripts/cluster.sh down

cluster-logs:
	@scripts/cluster.sh logs

# image: Paddock's container image (deploy/Dockerfile), built with no
# registry. compose-up/down: the cluster of deploy/compose.yaml.
image:
	@deploy/image.sh

compose-up: image zk-image
	PADDOCK_ZK_IMAGE=$$(deploy/zookeeper-image/ensure.sh) scripts/compose.sh -f deploy/compose.yaml up -d
	@echo "status page: http://127.0.0.1:9101/ (master1), http://127.0.0.1:9102/ (master2)"

compose-down:
	scripts/compose.sh -f deploy/compose.yaml down -v --remove-orphans

# deploy-test: the systemd units verify, the Kubernetes manifests decode
# strictly, and the compose cluster survives losing its leader.
deploy-test: zk-image
	$(GO) test -count=1 -timeout 10m ./test/deploy/...
	cd test/k8s && $(GO) test -count=1 ./...

# install: the binaries as $(PREFIX)/bin/paddock-<name>, where the systemd
# units in deploy/systemd expect them.
PREFIX ?= /usr/local
install: build
	@for b in master worker client election; do \
		install -D -m 755 $(BIN)/$$b $(DESTDIR)$(PREFIX)/bin/paddock-$$b && echo "installed $(DESTDIR)$(PREFIX)/bin/paddock-$$b"; \
	done

clean:
	@scripts/cluster.sh down >/dev/null 2>&1 || true
	rm -rf $(BIN) .tmp

# bench: the measurements of BENCHMARKS.md (a private ZooKeeper, fsync on),
# printed as a table and written to bench-report.json, with the costs per
# task (ZooKeeper requests, write transactions, CPU of each process) with
# 1, 2 and 4 masters; then the Go micro-benchmarks of the hot paths.
# PADDOCK_BENCH_BASELINE=<git ref> also measures that ref's binaries,
# alternating with the current build (as bench-ab does).
bench: zookeeper
	PADDOCK_BENCH_OUT=$(CURDIR)/bench-report.json $(GO) test -count=1 -v -timeout 60m -run TestReport ./test/bench/ | grep -v '^=== \|^    logger' 
	$(GO) test -run '^$$' -bench . -benchmem ./internal/task/ ./internal/master/ ./internal/coord/

# bench-ab: only the A/B of the costs per task: the binaries of BASELINE
# (a git ref) and of the working tree, alternating (AB_ROUNDS rounds each,
# default 3), on one ZooKeeper; prints the ratios new/old; .tmp/bench-ab.json.
BASELINE ?=
AB_ROUNDS ?= 3
bench-ab: zookeeper
	@test -n "$(BASELINE)" || { echo "usage: make bench-ab BASELINE=<git ref>"; exit 2; }
	@mkdir -p .tmp
	set -o pipefail; PADDOCK_BENCH_BASELINE=$(BASELINE) PADDOCK_BENCH_AB_ROUNDS=$(AB_ROUNDS) PADDOCK_BENCH_OUT=$(CURDIR)/.tmp/bench-ab.json \
		$(GO) test -count=1 -v -timeout 60m -run 'TestReport/ab$$' ./test/bench/ | grep -v '^=== \|^    logger'

# bench-scale: the scale step alone (issue 13): 4 masters of which 1, 2
# and 4 lead, under SCALE (workers x slots, clients x in flight), with
# BASELINE's single leader first; then SCALE_ROUNDS-1 more rounds of the two
# windows the issue's target compares (the old single leader, 4 new
# leaders), alternating their order. Prints the old leader's CPU per task
# over the busiest new leader's, by round and the median;
# .tmp/bench-scale.json.
SCALE ?= 4x16,2x128
SCALE_ROUNDS ?= 5
bench-scale: zookeeper
	@test -n "$(BASELINE)" || { echo "usage: make bench-scale BASELINE=<git ref> [SCALE=WxS,CxF] [SCALE_ROUNDS=n]"; exit 2; }
	@mkdir -p .tmp
	set -o pipefail; PADDOCK_BENCH_BASELINE=$(BASELINE) PADDOCK_BENCH_SCALE="$(SCALE)" PADDOCK_BENCH_SCALE_ROUNDS=$(SCALE_ROUNDS) PADDOCK_BENCH_OUT=$(CURDIR)/.tmp/bench-scale.json \
		$(GO) test -count=1 -v -timeout 60m -run 'TestReport/scale$$' ./test/bench/ | grep -v '^=== \|^    logger'

# bench-bundle: `make bench` packed for another Linux x86-64 host with no
# Go, Java or ZooKeeper (a larger machine lent for a measurement, with no
# network): static binaries (and BASELINE's, for the A/B), the bench's test
# binary, ZooKeeper's jars and a jlinked Java runtime, in
# $(BUNDLE)/bundle.tar.xz. There: untar, then ./run.sh OUTDIR, e.g. with
# PADDOCK_BENCH_SCALE="16x16,4x256" PADDOCK_BENCH_JVM=shipped.
BUNDLE ?= .tmp/bench-bundle
bench-bundle: zookeeper
	scripts/bench-bundle.sh $(BUNDLE) $(BASELINE)

# bench-large: a backlog of LARGE_N (default 1,000,000) pending tasks: the
# submit rate empty and full, ZooKeeper's heap (ZK_HEAP, default 2g) and
# RSS, the failovers with the backlog, the drain, the masters' peak RSS;
# .tmp/bench-large.json. Long (not part of make test).
LARGE_N ?= 1000000
ZK_HEAP ?= 2g
bench-large: zookeeper
	@mkdir -p .tmp
	set -o pipefail; PADDOCK_BENCH_LARGE_N=$(LARGE_N) PADDOCK_BENCH_ZK_HEAP=$(ZK_HEAP) PADDOCK_BENCH_LARGE_OUT=$(CURDIR)/.tmp/bench-large.json \
		$(GO) test -count=1 -v -timeout 180m -run TestLarge ./test/bench/ | grep -v '^=== \|^    logger'
