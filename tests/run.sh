#!/usr/bin/env bash
# The README test command: set up (idempotent), then every test of the project:
#   1. formatting and clippy (host and wasm32)
#   2. the sans-I/O core: cargo test (it also writes the contract values, target/contract/)
#   3. fuzzing of the parsers, 10 s per target (tests/fuzz.sh; README has the long run)
#   4. src/web in headless Chromium: wasm-bindgen tests against a loopback token server
#   5. the release build (the pinned toolchain) and its size budget (fails above it)
#   6. the node suites: the engine/host contract (tsc over the generated declarations),
#      identity-provider emulator, dashboard and web host, end-to-end with the real engine,
#      the Chrome extension, the Outlook add-in (manifests, task pane, Office dialog)
#   7. the benchmarks, short: service-worker wake and cold start, ours beside the bare floor
#      and the peers (prints numbers; never fails on them)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check / clippy (host, wasm32)"
cargo fmt --check
cargo clippy --all-targets -q -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-targets -q -- -D warnings

step "cargo test (core)"
cargo test -q 2>&1 | grep -v '^$'

step "fuzzing, short run (bash tests/fuzz.sh SECONDS for a long one)"
bash tests/fuzz.sh 10

step "wasm-bindgen tests in headless Chromium"
workdir=$(mktemp -d)
node tests/support/token-server.mjs > "$workdir/token-server.json" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 50); do [ -s "$workdir/token-server.json" ] && break; sleep 0.1; done
port=$(node -e "process.stdout.write(String(JSON.parse(require('fs').readFileSync('$workdir/token-server.json','utf8')).port))")
SIDEBAR_AUTH_TOKEN_SERVER="http://127.0.0.1:$port" CHROMEDRIVER=/usr/bin/chromedriver \
  wasm-pack test --headless --chrome -- --test web_api

step "release build (pinned toolchain) and its size budget"
bash build-engine.sh
node tests/bench/size.mjs --check

step "node tests: contract, identity providers, dashboard, end to end, extension, Outlook add-in"
node --test --test-concurrency=1 tests/contract/ tests/idp/ tests/web/ tests/e2e/ tests/extension/ tests/addin/

step "benchmarks (print numbers; never fail on them)"
node tests/bench/wake.mjs --runs 7 --trace 3
node tests/bench/cold-start.mjs --runs 2
