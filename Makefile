# The two commands of README.md, and the benchmark.
.PHONY: demo test bench build

## Runs the product: builds the engine, starts the local identity providers and the
## dashboard, prints the URLs; Ctrl-C stops everything.
demo:
	bash tests/setup.sh
	bash build-engine.sh
	node tests/support/demo.mjs

## Runs every test (sets up a fresh machine first).
test:
	bash tests/run.sh

build:
	bash build-engine.sh

## Size and service-worker wake (30 wakes each, ours and the bare JS floor alternating in
## one Chromium); printed and written to BENCHMARKS.md. A few minutes.
bench: build
	mkdir -p target
	bash -o pipefail -c "{ node tests/bench/size.mjs && node tests/bench/wake.mjs --runs 30; } 2>&1 | grep --line-buffered -v 'oidc-provider WARNING' | tee target/bench-latest.txt"
	node tests/bench/write-benchmarks.mjs target/bench-latest.txt
	cargo run --profile fleet --example fleet -- --clients 1000000 --svg docs/fleet.svg
