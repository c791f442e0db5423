# sse-hub: the only commands a newcomer needs.
#
#   make run    install what is missing, build, serve on http://127.0.0.1:3000
#   make test   install what is missing, then lint and run every test
#
# Every install step is idempotent and checks versions first, so a second run
# takes seconds. See ../shared/TOOLCHAIN.md for why each tool comes from where.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO_LEPTOS_VERSION := 0.3.10
# The wasm-bindgen CLI must equal the library version pinned in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
TOOLS_BIN := $(CURDIR)/tools/node_modules/.bin
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# wasm-opt from npm's binaryen must come first on PATH (Debian's v108 breaks
# hydration); cargo-installed tools next.
export PATH := $(TOOLS_BIN):$(HOME)/.cargo/bin:$(PATH)
# Run the server from the repo root: it finds its site under target/site.
SERVER := target/release/sse-hub

.PHONY: help setup build dist run test lint unit bench-lint e2e bundle-report screenshots bench bench-quick bench-compare fuzz clean

help:
	@echo "make run    build and serve on http://127.0.0.1:3000"
	@echo "make test   lint, Rust tests and the Playwright suite"
	@echo "make dist   dist/sse-hub, the one file to ship"
	@echo "make setup | build | dist | bundle-report | lint | unit | bench-lint | e2e | screenshots | bench | bench-quick | bench-compare | fuzz | clean"

## setup: install whatever is missing (idempotent)
setup: tools/node_modules/.package-lock.json end2end/node_modules/.package-lock.json
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
		|| rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -qF "$(CARGO_LEPTOS_VERSION)" \
		|| cargo install cargo-leptos@$(CARGO_LEPTOS_VERSION) --locked
	@wasm-bindgen --version 2>/dev/null | grep -qF "$(WASM_BINDGEN_VERSION)" \
		|| cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@test -x $(CHROMIUM) \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }
	@# The shared-store tests start private redis-servers (never the machine's).
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server redis-tools; }
	@# The scale-out browser test runs nginx with README's proxy block (its own
	@# config and prefix, never the system service).
	@test -x /usr/sbin/nginx || command -v nginx >/dev/null \
		|| { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light; }
	@# make test lints GET /metrics with Prometheus's own promtool.
	@command -v promtool >/dev/null \
		|| { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }
	@# The WASM build compiles the standard library itself (FRONT_BUILD_ENV).
	@rustup component list --installed | grep -q '^rust-src' \
		|| rustup component add rust-src
	@echo "setup: toolchain ready (cargo-leptos $(CARGO_LEPTOS_VERSION), wasm-bindgen $(WASM_BINDGEN_VERSION), $$(wasm-opt --version))"

tools/node_modules/.package-lock.json: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund

end2end/node_modules/.package-lock.json: end2end/package.json end2end/package-lock.json
	cd end2end && npm ci --no-audit --no-fund

# The front end's inputs: everything under src/ but the server's own code
# (src/server/ is compiled only with `ssr`), the stylesheet, public/ and
# the manifests, this Makefile (the build's flags). When none changed since
# the last front-end build, `make build` (and so `make run`) skips
# wasm-bindgen and wasm-opt.
FRONT_INPUTS := $(shell find src -path src/server -prune -o -type f -print) \
	$(shell find style public -type f) Cargo.toml Cargo.lock Makefile
FRONT_STAMP := target/front-built.stamp

# The WASM is built the way Leptos' guide to binary size advises: the
# standard library compiled with the bundle (-Zbuild-std, so LTO and
# opt-level "z" reach it too, where rustup's copy is built for speed), a
# panic is an immediate trap (no panic machinery or message formatting:
# a release bundle aborts on a panic either way, printing nothing, since it
# has no panic hook), and no source locations kept for panics. Together
# 15 to 17 KiB gzip off each page (README: The page's weight). These
# flags are unstable: rather than a nightly toolchain (installing one is a
# trap on these machines, ../shared/TOOLCHAIN.md) the stable compiler
# accepts them under RUSTC_BOOTSTRAP=1, for this build only, as the fuzz
# targets do. A later rustc that changes them fails this build loudly.
FRONT_BUILD_ENV := RUSTC_BOOTSTRAP=1 \
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"
FRONT_CARGO_ARGS := --lib-cargo-args=-Zbuild-std=std,panic_abort

## build: release server binary with the site inside (target/release/sse-hub)
# The front end first, then the server: build.rs embeds target/site into the
# binary, so the site must be complete before the server compiles
# (`cargo leptos build` alone builds both at once).
build: setup $(FRONT_STAMP)
	cargo leptos build --release --server-only

$(FRONT_STAMP): $(FRONT_INPUTS) | setup
	@# A split build names its chunks anew each time: start from an empty
	@# pkg/ so that no old chunk is embedded in the server.
	rm -rf target/site/pkg
	@# --split: each page's island is a chunk of its own, loaded only on
	@# that page (README: The page's weight).
	$(FRONT_BUILD_ENV) cargo leptos build --release --frontend-only --split $(FRONT_CARGO_ARGS)
	@# TypeScript declarations wasm-bindgen writes: no browser needs them,
	@# and the server would embed them.
	rm -f target/site/pkg/*.d.ts
	@touch $@

## dist: the one file to ship, stripped (dist/sse-hub)
dist: build
	@mkdir -p dist
	cp target/release/sse-hub dist/sse-hub
	strip dist/sse-hub
	@echo "dist/sse-hub: $$(du -h dist/sse-hub | cut -f1) ($$(stat -c %s dist/sse-hub) bytes); it needs nothing beside it"

## run: build and serve with the defaults
run: build
	./$(SERVER)

## test: everything, as CI runs it
test: setup lint unit bench-lint e2e

lint:
	cargo fmt --check
	cargo clippy --all-targets --all-features -- -D warnings
	cargo clippy --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings
	# The fuzz targets (their own workspace) must keep compiling too.
	cargo fmt --check --manifest-path fuzz/Cargo.toml
	cargo clippy --manifest-path fuzz/Cargo.toml --target-dir target -- -D warnings

# The integration tests hold a few thousand sockets at once: raise the
# open-file limit to the hard limit where the default soft limit is lower.
unit:
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null || true; cargo test --features ssr

## bench-lint: rustfmt, clippy and the unit tests of the benchmark crate (bench/)
bench-lint:
	$(MAKE) -C bench lint

# The ceiling of the WASM one page downloads, gzip, in KiB: `make test`
# fails when a page passes it, so that no page grows unnoticed. The issue
# asks for 160 as the gate and 150 as the goal; every page now reaches the
# goal, so the goal is the gate. What the pages weigh today and why is in
# README (Performance, The page's weight).
BUNDLE_GZIP_MAX_KIB := 150

e2e: build
	node tools/bundle-size.mjs target/site/pkg $(BUNDLE_GZIP_MAX_KIB)
	cd end2end && npx playwright test

## bundle-report: what each page downloads and the 40 biggest items of the unsplit WASM (twiggy, installed when missing)
bundle-report: build
	@command -v twiggy >/dev/null || cargo install twiggy@0.8.0 --locked
	node tools/bundle-size.mjs target/site/pkg $(BUNDLE_GZIP_MAX_KIB)
	twiggy top -n 40 target/front/wasm32-unknown-unknown/wasm-release/sse_hub.wasm

## screenshots: PNGs of both pages with live data, into docs/
screenshots: build
	cd end2end && SCREENSHOTS=1 npx playwright test screenshots.spec.ts

bench: build
	$(MAKE) -C bench full

bench-quick: build
	$(MAKE) -C bench quick

## bench-compare AGAINST=path/to/sse-hub: this tree against another build, alternating
bench-compare: build
	$(MAKE) -C bench compare AGAINST="$(abspath $(AGAINST))"

fuzz:
	$(MAKE) -C fuzz run

clean:
	cargo clean
