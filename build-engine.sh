#!/usr/bin/env bash
# Builds the engine into pkg/ (wasm-pack, --target web, release), then shrinks what ships:
# wasm-opt (npm binaryen 132; Debian's 108 corrupts wasm-bindgen output) merges identical
# functions and drops unreferenced ones, and terser minifies the JS glue. Both are npm
# devDependencies (tests/setup.sh runs npm ci). Measured on 2026-11-25: -1.9 KB and -2.3 KB
# brotli. wasm-opt -Oz was tried and saves less after brotli than these two passes.
#
# The release module is built with the nightly toolchain (measured with 2026-05-19) when it is installed with
# rust-src: the standard library is rebuilt for size (-Z build-std) with panics that abort
# at once (-C panic=immediate-abort), so no panic message or location formatting is linked
# in. That is ~14 KB brotli of the module (measured; the size budget is 120 KB). Both flags
# are unstable, hence nightly; the tests, clippy and the wasm-bindgen tests use stable.
# Without the nightly toolchain this falls back to a stable build, bigger but the same code.
set -euo pipefail
cd "$(dirname "$0")"

SIZE_TOOLCHAIN=${SIZE_TOOLCHAIN:-nightly}
if rustup run "$SIZE_TOOLCHAIN" rustc --print sysroot >/dev/null 2>&1 \
  && [ -d "$(rustup run "$SIZE_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src/rust/library" ] \
  && rustup target list --installed --toolchain "$SIZE_TOOLCHAIN" | grep -qx wasm32-unknown-unknown; then
  RUSTUP_TOOLCHAIN="$SIZE_TOOLCHAIN" \
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
  CARGO_TARGET_DIR=target/size \
    wasm-pack --quiet build . --target web --out-dir pkg --release -- -Zbuild-std=std,panic_abort
else
  echo "[build-engine] $SIZE_TOOLCHAIN with rust-src and wasm32 is not installed:" \
    "building with stable (a larger module; tests/setup.sh installs it)" >&2
  wasm-pack --quiet build --target web --out-dir pkg --release
fi

[ -x node_modules/.bin/wasm-opt ] && [ -x node_modules/.bin/terser ] || {
  echo "[build-engine] node_modules is missing wasm-opt or terser: run npm ci (tests/setup.sh)" >&2
  exit 1
}
# strip = true drops the target-features section, so the features are named here.
node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --duplicate-function-elimination --remove-unused-module-elements \
  pkg/sidebar_auth_bg.wasm -o pkg/sidebar_auth_bg.wasm
node_modules/.bin/terser pkg/sidebar_auth.js --module --compress --mangle -o pkg/sidebar_auth.js
