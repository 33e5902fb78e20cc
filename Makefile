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

bench: build
	node tests/bench/size.mjs
	node tests/bench/wake.mjs
