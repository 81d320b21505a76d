# Biboumi-compatible XMPP–IRC gateway in Go.
GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=
BIN     := bin

.PHONY: all build test unit vet demo bench fuzz clean deps

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

deps:
	scripts/deps.sh test

# Every test: unit tests, and end-to-end tests against real prosody,
# ejabberd, inspircd, ngircd and PostgreSQL started on loopback.
test: deps vet
	$(GO) test -race -timeout 15m ./...

# The fast offline subset for the edit loop (no real servers).
unit:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Throwaway prosody + inspircd on loopback, the gateway on SQLite, and a
# scripted XMPP user and IRC user talking through it; then it keeps running
# for real clients until Ctrl-C. DEMO_FLAGS="-duration 0" exits right after
# the conversation (see go run ./cmd/biboumi-demo -h).
demo:
	scripts/deps.sh demo
	GO="$(GO)" $(GO) run ./cmd/biboumi-demo $(DEMO_FLAGS)

# Benchmarks (docs/benchmarks.md). bench: the Go micro-benchmarks, then the
# load generator at a small size against our gateway only (about a
# minute). bench-full: both default sizes (100 users × 5 channels, 500 × 1)
# against ours and Debian's Biboumi 9.0 (about 5 minutes; installs biboumi
# if missing). BENCH_FLAGS adds flags (go run ./cmd/biboumi-bench -h), e.g.
# BENCH_FLAGS="-ours-config 'component.queue_size = 1000000'".
.PHONY: bench-micro bench-load bench-full bench-biboumi
BENCH_FLAGS ?=

bench: bench-micro bench-load

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-load:
	scripts/deps.sh test
	@mkdir -p $(BIN)
	GO="$(GO)" $(GO) run ./cmd/biboumi-bench -users 20 -channels 2 -duration 10s -lines 50 -target ours -json $(BIN)/bench-load.json $(BENCH_FLAGS)

bench-full: bench-biboumi-dep
	scripts/deps.sh test
	@mkdir -p $(BIN)
	GO="$(GO)" $(GO) run ./cmd/biboumi-bench -target both -json $(BIN)/bench-full.json $(BENCH_FLAGS)

# Biboumi alone at the default sizes, plus its database on tmpfs (the
# reference for CPU per delivery).
bench-biboumi: bench-biboumi-dep
	scripts/deps.sh test
	@mkdir -p $(BIN)
	GO="$(GO)" $(GO) run ./cmd/biboumi-bench -target biboumi,biboumi-tmpfs -json $(BIN)/bench-biboumi.json $(BENCH_FLAGS)

.PHONY: bench-biboumi-dep
bench-biboumi-dep:
	@command -v biboumi >/dev/null || { \
		echo "Installing Debian's biboumi 9.0 for the comparison"; \
		s=""; [ "$$(id -u)" -eq 0 ] || s=sudo; \
		$$s apt-get update -q && DEBIAN_FRONTEND=noninteractive $$s apt-get install -y -q biboumi; \
		if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet biboumi 2>/dev/null; then $$s systemctl stop biboumi; fi; }

# The full soak test (cmd/biboumi/soak_test.go): 200 XMPP users in 20
# channels on inspircd through prosody, archive on PostgreSQL, for 10
# minutes, while PostgreSQL, prosody and inspircd are each restarted once;
# ends with a summary table (messages sent and received on each side, lost,
# duplicated, latency, peak RSS, goroutines). SOAK=30m for longer; the
# table is also written to SOAK_REPORT when set. `make test` runs the short
# version (20 users × 4 channels × 30 s).
SOAK        ?= 10m
SOAK_REPORT ?=
.PHONY: soak
soak: deps
	BIBOUMI_SOAK=$(SOAK) BIBOUMI_SOAK_REPORT=$(SOAK_REPORT) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 60m ./cmd/biboumi/

# The log migration benchmark (cmd/biboumi-migrate): copies a 1,000,000-line
# SQLite database of our schema (generated once, cached in $TMPDIR) into a
# throwaway PostgreSQL and reports lines/s. Target: 50,000 lines/s.
.PHONY: bench-migrate
bench-migrate:
	$(GO) test -run '^$$' -bench BenchmarkMigrate -benchtime 1x -timeout 30m ./cmd/biboumi-migrate/

# The archive benchmarks (docs/benchmarks.md, "Archive"). First the MAM
# queries (last 50, one day, forward paging) and 256-line appends on a
# 1,000,000-line archive, SQLite (generated once, cached in $TMPDIR) and
# PostgreSQL with fsync on (loaded each run, about 20 s); target p99 under
# 5 ms. Then the live archiving overhead (BenchmarkIRCToStanza and
# BenchmarkIRCToStanzaDrained, archive=off vs on) and the archive writer's
# throughput (BenchmarkArchiver). About 6 minutes. Output in
# $(BIN)/bench-archive-*.txt, summarised by benchstat when installed
# (go install golang.org/x/perf/cmd/benchstat@latest).
.PHONY: bench-archive
bench-archive: SHELL := /bin/bash
bench-archive: .SHELLFLAGS := -o pipefail -c
bench-archive:
	@mkdir -p $(BIN)
	@uptime
	BIBOUMI_TEST_PG_FSYNC=on $(GO) test -run '^$$' -bench '^BenchmarkArchive$$' -benchmem -count 6 -timeout 30m ./store/sqlstore/ | tee $(BIN)/bench-archive-store.txt
	@uptime
	$(GO) test -run '^$$' -bench '^(BenchmarkIRCToStanza|BenchmarkIRCToStanzaDrained|BenchmarkArchiver)$$' -benchmem -count 6 -timeout 30m ./ircbridge/ | tee $(BIN)/bench-archive-relay.txt
	@uptime
	@bs=$$(command -v benchstat || echo "$$($(GO) env GOPATH)/bin/benchstat"); \
	if [ -x "$$bs" ]; then \
		"$$bs" $(BIN)/bench-archive-store.txt && \
		"$$bs" -filter '.name:IRCToStanza' -col /archive $(BIN)/bench-archive-relay.txt && \
		"$$bs" -filter '.name:IRCToStanzaDrained' -col /archive $(BIN)/bench-archive-relay.txt && \
		"$$bs" -filter '.name:Archiver' $(BIN)/bench-archive-relay.txt; \
	else echo "For medians: go install golang.org/x/perf/cmd/benchstat@latest"; fi
	@# go test exits 0 when a sub-benchmark fails in one -count round only.
	@! grep -- '--- FAIL' $(BIN)/bench-archive-store.txt $(BIN)/bench-archive-relay.txt

clean:
	rm -rf $(BIN)

# Installation. PREFIX (default /usr/local) and DESTDIR (for packaging)
# are honoured; each directory can be overridden on the command line.
# The systemd unit goes to $(PREFIX)/lib/systemd/system, except with
# PREFIX=/usr where it goes to /lib/systemd/system (Debian's place). The
# configuration directory is /etc whatever PREFIX is; only the example is
# installed there, as biboumi.toml.example: an existing biboumi.toml is
# never touched, by install or by uninstall. See docs/install.md.
BINDIR         ?= $(PREFIX)/bin
SYSCONFDIR     ?= /etc
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/biboumi
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= /lib/systemd/system
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif
INSTALL_BINS   ?= biboumi biboumi-migrate
INSTALL_DOCS   := README.md $(wildcard docs/*.md)

.PHONY: install uninstall

install:
	$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(INSTALL_BINS))
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/biboumi \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)
	install -m 0755 $(addprefix $(BIN)/,$(INSTALL_BINS)) $(DESTDIR)$(BINDIR)/
	sed -e 's|/usr/local/bin/biboumi|$(BINDIR)/biboumi|' \
		-e 's|/usr/local/share/doc/biboumi|$(DOCDIR)|' \
		-e 's|/etc/biboumi/|$(SYSCONFDIR)/biboumi/|' \
		biboumi.service > $(DESTDIR)$(SYSTEMDUNITDIR)/biboumi.service.tmp
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/biboumi.service.tmp
	mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/biboumi.service.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/biboumi.service
	install -m 0644 biboumi.example.toml $(DESTDIR)$(SYSCONFDIR)/biboumi/biboumi.toml.example
	install -m 0644 docs/biboumi.8 $(DESTDIR)$(MANDIR)/man8/biboumi.8
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	@test -e $(DESTDIR)$(SYSCONFDIR)/biboumi/biboumi.toml || \
		echo "Next: cp $(SYSCONFDIR)/biboumi/biboumi.toml.example $(SYSCONFDIR)/biboumi/biboumi.toml, edit it, then systemctl daemon-reload && systemctl enable --now biboumi"

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_BINS))
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/biboumi.service
	rm -f $(DESTDIR)$(SYSCONFDIR)/biboumi/biboumi.toml.example
	rm -f $(DESTDIR)$(MANDIR)/man8/biboumi.8
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS)))
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	rmdir $(DESTDIR)$(SYSCONFDIR)/biboumi 2>/dev/null || true
