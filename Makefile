# One verb per job; CI runs `make test`, people run the same commands.
#   make demo         build aioxide and run the demo (stdlib asyncio vs aioxide)
#   make test         cargo tests, pytest on both loops, CPython's test_asyncio conformance
#   make lint         cargo fmt --check, cargo clippy -D warnings, ruff
#   make test-debug   the whole pytest suite once more in asyncio's debug mode
#                     (PYTHONASYNCIODEBUG=1); CI runs it and lint after `make test`
#   make bench        loop and network benchmarks vs uvloop, rloop, rsloop and stdlib asyncio, watchdog
#                     cost, aioxide.sync vs asgiref, aioxide.http vs aiohttp/httpx/pyreqwest/
#                     niquests (not part of test)
#   make conformance  only the test_asyncio conformance run
#   make thirdparty   the own test suites of anyio, uvloop, aiohttp, starlette, httpx,
#                     uvicorn, asyncssh, aioquic, aiosmtpd, tornado, asyncpg, redis-py,
#                     asgiref, aiofiles, hypercorn, Sanic, pyzmq, aioconsole and aiomisc
#                     on aioxide and on stdlib asyncio (downloads them; about 50
#                     minutes; asyncpg's needs Debian's postgresql, redis-py's
#                     redis-server; not part of test)
#   make test-all     make test on 3.11, 3.13, 3.14 and 3.15, then one table of counts
#   make wheels       one wheel per interpreter into dist/, each smoke-tested in a venv
#   make ft-check     compile and lint the free-threaded (3.14t) form of the extension
#   make fuzz         the HTTP parser fuzz targets (fuzz/), FUZZ_SECONDS each (default 60)
# Every verb takes PY=3.13|3.14|3.15|3.14t: the same verb on that interpreter, inside a
# Debian tree that scripts/python-tree creates on first use (or python$(PY) from PATH).
# Everything installs into .venv from the package registries; nothing else is assumed
# beyond Rust and Python 3.11.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-installed
BUILD_STAMP := $(VENV)/.aioxide-built
BENCH_STAMP := $(VENV)/.bench-deps-installed
RUST_SOURCES := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml pyproject.toml
JOBS ?= 2

.PHONY: all demo test test-rust test-python test-debug conformance thirdparty lint bench \
	build clean test-all wheels ft-check fuzz

all: test

ifneq ($(PY),)
# The same verb on python$(PY), with its own venv and cargo target directory.
demo test test-rust test-python test-debug conformance thirdparty lint bench build ft-check:
	scripts/python-tree $(PY) env CARGO_TARGET_DIR=target/py$(PY) \
		$(MAKE) $@ PY= PYTHON=python$(PY) VENV=.venv-$(PY)
else

$(DEPS_STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# One release build, installed into the venv (maturin develop), shared by every target.
$(BUILD_STAMP): $(DEPS_STAMP) $(RUST_SOURCES)
	VIRTUAL_ENV=$(abspath $(VENV)) PATH="$(abspath $(VENV))/bin:$$PATH" \
		$(VENV)/bin/maturin develop --release --quiet
	touch $@

build: $(BUILD_STAMP)

demo: $(BUILD_STAMP)
	$(VPY) examples/demo.py

test: test-rust test-python conformance

test-rust:
	cargo test --release -p aioxide-core

test-python: $(BUILD_STAMP)
	$(VPY) -m pytest tests/python -n $(JOBS) -q -p no:cacheprovider
	# aioxide.fs again on its worker-pool backend (what runs where io_uring is refused)
	AIOXIDE_FS_BACKEND=threads $(VPY) -m pytest tests/python/fs -n $(JOBS) -q -p no:cacheprovider

test-debug: $(BUILD_STAMP)
	PYTHONASYNCIODEBUG=1 $(VPY) -m pytest tests/python -n $(JOBS) -q -p no:cacheprovider

conformance: $(BUILD_STAMP)
	$(VPY) tests/conformance/run.py --jobs $(JOBS)

thirdparty:
	$(PYTHON) tests/thirdparty/run.py

lint: $(DEPS_STAMP)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --release -- -D warnings
	$(VENV)/bin/ruff check python tests benches examples

# Benchmark-only packages (aiohttp); wrk from Debian when this user may install it, else
# the HTTP cells use benches/netload's own HTTP client (the report says which).
$(BENCH_STAMP): $(DEPS_STAMP) benches/requirements-bench.txt
	$(VPY) -m pip install --quiet -r benches/requirements-bench.txt
	# the Rust loops and the other HTTP clients, from wheels only (rsloop has none for
	# 3.11 or for glibc < 2.39):
	# a loop that does not install is a column the reports mark skipped, with the reason
	for peer in rloop rsloop httpx pyreqwest niquests; do \
		$(VPY) -m pip install --quiet --only-binary=:all: $$peer \
		|| echo "$$peer: no wheel for this interpreter/platform"; done
	command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null 2>&1 || true
	touch $@

bench: $(BUILD_STAMP) $(BENCH_STAMP)
	$(VPY) benches/run.py
	$(VPY) benches/net_bench.py
	$(VPY) benches/watchdog_overhead.py
	$(VPY) benches/sync_bench.py
	$(VPY) benches/fs_bench.py
	$(VPY) benches/http_client_bench.py

# libFuzzer targets built on the stable toolchain: SanitizerCoverage through -C flags,
# which is what cargo-fuzz passes too, minus the nightly-only sanitizers.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := response_parser chunked_decoder
FUZZ_FLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing
# An explicit --target keeps the flags off build scripts, which libFuzzer does not link.
FUZZ_HOST = $(shell rustc -vV | sed -n 's/^host: //p')
fuzz:
	RUSTFLAGS="$(FUZZ_FLAGS)" CARGO_TARGET_DIR=target/fuzz \
		cargo build --release --manifest-path fuzz/Cargo.toml --target $(FUZZ_HOST)
	for t in $(FUZZ_TARGETS); do \
		mkdir -p target/fuzz/corpus/$$t; \
		target/fuzz/$(FUZZ_HOST)/release/$$t target/fuzz/corpus/$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=4096 -print_final_stats=1 >target/fuzz/$$t.log 2>&1; rc=$$?; \
		tail -n 8 target/fuzz/$$t.log; [ $$rc -eq 0 ] || exit $$rc; \
	done

# The free-threaded (3.14t) form of the extension, compiled and linted against a pyo3
# configuration for CPython 3.14 with Py_GIL_DISABLED: no such interpreter is needed.
ft-check:
	PYO3_CONFIG_FILE=$(abspath scripts/pyo3-cpython-3.14t.cfg) CARGO_TARGET_DIR=target/ft \
		cargo clippy -p aioxide-py -- -D warnings
endif

test-all:
	scripts/test-all

wheels:
	scripts/wheels

clean:
	rm -rf .venv .venv-* target dist
