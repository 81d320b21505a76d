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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN)
