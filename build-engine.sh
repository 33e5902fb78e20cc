#!/usr/bin/env bash
# Builds the engine into pkg/ (wasm-pack, --target web, release) and shrinks what ships.
#
# 1. With a nightly toolchain that has rust-src and the wasm32 standard library, the
#    standard library is rebuilt for size (-Z build-std) with panics that abort at once
#    (-C panic=immediate-abort), so no panic message or location formatting is linked in:
#    ~11 KB brotli (118.3 vs 129.2 KB measured with nightly 2026-05-19; the budget is 120).
#    Both flags are unstable, hence nightly. The tests, clippy and the wasm-bindgen tests
#    use stable. Without such a toolchain, or if that build fails, this builds with stable:
#    the same code, a larger module, and a warning.
# 2. wasm-opt (npm binaryen 132; Debian's 108 corrupts wasm-bindgen output) merges identical
#    functions and drops unreferenced ones (-1.9 KB brotli; -Oz saves less after brotli),
#    and terser minifies the JS glue (-2.3 KB). Both are npm devDependencies (npm ci).
#
# target/engine-build.txt records which toolchain built pkg/ (the size benchmark prints it).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p target

has_size_toolchain() {
  local sysroot
  sysroot=$(rustup run "$1" rustc --print sysroot 2>/dev/null) || return 1
  [ -d "$sysroot/lib/rustlib/src/rust/library" ] \
    && rustup target list --installed --toolchain "$1" 2>/dev/null | grep -qx wasm32-unknown-unknown
}

size_toolchain=""
for candidate in ${SIZE_TOOLCHAIN:-nightly-2026-05-19 nightly}; do
  if has_size_toolchain "$candidate"; then size_toolchain=$candidate; break; fi
done

built_with=""
if [ -n "$size_toolchain" ]; then
  if RUSTUP_TOOLCHAIN="$size_toolchain" \
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
    CARGO_TARGET_DIR=target/size \
    wasm-pack --quiet build . --target web --out-dir pkg --release -- -Zbuild-std=std,panic_abort; then
    built_with="$(rustup run "$size_toolchain" rustc -V), build-std, panic=immediate-abort"
  else
    echo "[build-engine] WARNING: the size build with $size_toolchain failed; building with stable" >&2
  fi
else
  echo "[build-engine] WARNING: no nightly toolchain with rust-src and wasm32 (tests/setup.sh" \
    "installs them): building with stable, a larger module" >&2
fi
if [ -z "$built_with" ]; then
  wasm-pack --quiet build --target web --out-dir pkg --release
  built_with="$(rustc -V), panic=abort"
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/terser ]; then
  echo "[build-engine] node_modules lacks wasm-opt or terser: run npm ci (tests/setup.sh)" >&2
  exit 1
fi
# strip = true drops the target-features section, so the features are named here.
node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --duplicate-function-elimination --remove-unused-module-elements \
  pkg/sidebar_auth_bg.wasm -o pkg/sidebar_auth_bg.wasm
node_modules/.bin/terser pkg/sidebar_auth.js --module --compress --mangle -o pkg/sidebar_auth.js
echo "$built_with; wasm-opt, terser" > target/engine-build.txt
