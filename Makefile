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

## Size, service-worker wake (30 wakes each: ours, the bare JS floor and the peers
## msal-browser, oauth4webapi, oidc-client-ts alternating in one Chromium; then 5 of ours under
## a Chromium trace: what the worker compiled before the first token) and cold start in a page
## and in the add-in task pane (20 loads each, alternating); printed and written to
## BENCHMARKS.md. About ten minutes.
bench: build
	mkdir -p target
	bash -o pipefail -c "{ node tests/bench/size.mjs && node tests/bench/wake.mjs --runs 30 --trace 5 && node tests/bench/cold-start.mjs --runs 20; } 2>&1 | grep --line-buffered -v 'oidc-provider WARNING' | tee target/bench-latest.txt"
	node tests/bench/write-benchmarks.mjs target/bench-latest.txt
	cargo run --profile fleet --example fleet -- --clients 1000000 --svg docs/fleet.svg
