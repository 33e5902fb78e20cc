#!/usr/bin/env bash
# Fuzzes the parsers that read what the network, the browser and storage hand the engine
# (fuzz/fuzz_targets: the sign-in redirect, token responses with their JWTs, error
# classification, the vault, the configuration, the autodiscover lookup) with libFuzzer
# (cargo-fuzz), each for SECONDS seconds (default 15; `make test` runs 10; README: long run).
#
#   bash tests/fuzz.sh [SECONDS] [TARGET ...]
#
# A panic, a failed assertion, more than 128 MB in one allocation or 512 MB in all fails
# the run ("no unbounded allocation"); the input that did it is kept in fuzz/artifacts/.
# The corpus grows in fuzz/corpus/ (not in git), seeded from fuzz/seeds/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-15}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(redirect token_response classify vault config autodiscover)
fi
toolchain=$(sed -n 's/^size-toolchain = "\(.*\)"$/\1/p' Cargo.toml)
rustup run "$toolchain" rustc -V >/dev/null 2>&1 || toolchain="pinned-$toolchain"

build_log=$(mktemp)
if ! cargo +"$toolchain" fuzz build -O >"$build_log" 2>&1; then
  cat "$build_log" >&2
  rm -f "$build_log"
  exit 1
fi
rm -f "$build_log"
summary=()
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  log=$(mktemp)
  if ! cargo +"$toolchain" fuzz run -O "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=512 -malloc_limit_mb=128 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "FAIL: fuzz target $target found an input that fails (fuzz/artifacts/$target/)" >&2
    rm -f "$log"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  summary+=("$(printf '%-16s %10s executions in %ss, no failure' "$target" "$runs" "$seconds")")
  rm -f "$log"
done
printf 'fuzz: %s\n' "${summary[@]}"
