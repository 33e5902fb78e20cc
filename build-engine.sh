#!/usr/bin/env bash
# Builds the engine into pkg/ (wasm-pack, --target web, release) and shrinks what ships,
# then bundles the pages that load it.
#
# 1. One toolchain builds the shipped module: the nightly pinned in Cargo.toml
#    (`size-toolchain`, installed by tests/setup.sh), with the standard library rebuilt for
#    size (-Z build-std) and panics that abort at once (-C panic=immediate-abort), so no panic
#    message or location formatting is linked in, and -Z location-detail=none drops the
#    file names and lines that panic sites still referenced (nothing prints them once a panic
#    aborts at once). -Z fmt-debug=none makes every `{:?}` print nothing (measured: -2.8 KiB
#    brotli): the module formats no Debug output for anyone; the one visible cost is that
#    serde's "invalid type: string \"x\"" in a configuration error loses the quoted value (the
#    message still names the field's path and what was expected). These flags are unstable,
#    hence nightly.
#    Without that toolchain this fails: it never falls back to another one, so the module
#    that is measured against the budget is always built the same way.
# 2. wasm-opt (npm binaryen 132; Debian's 108 corrupts wasm-bindgen output) merges identical
#    functions, drops unreferenced ones and packs locals, then removes dead arguments
#    (--dae-optimizing, -0.6 KiB brotli), folds identical code tails and simplifies blocks,
#    branches and instructions (-1.3 KiB together, measured on main 2026-12-01; -Oz,
#    --inlining-optimizing, --local-cse and --merge-similar-functions make the brotli size
#    larger, so only these passes), and terser minifies the JS glue. Both are npm devDependencies (npm ci).
# 3. build/shorten-wasm-names.mjs gives the glue's imports and the exports short names in both files
#    (wasm-bindgen's hashed names cost about 3 KiB brotli).
# 4. build/bundle-pages.mjs bundles the dashboard page's and the task pane's modules into
#    pkg/dashboard-page.js and pkg/taskpane-page.js (esbuild), which www/index.html and
#    addin-manifest/taskpane.html load: one file per page starts faster (issue 12).
#
# target/engine-build.txt records the toolchain that built pkg/ (the size check prints it).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p target

pinned=$(sed -n 's/^size-toolchain = "\(.*\)"$/\1/p' Cargo.toml)
# The pinned nightly installed by name, or the image's identical build linked by setup.
toolchain=$pinned
rustup run "$toolchain" rustc -V >/dev/null 2>&1 || toolchain="pinned-$pinned"
sysroot=$(rustup run "$toolchain" rustc --print sysroot 2>/dev/null) || {
  echo "[build-engine] the pinned toolchain $pinned (Cargo.toml, size-toolchain) is not installed: run bash tests/setup.sh" >&2
  exit 1
}
if ! grep -qx "date = \"${pinned#nightly-}\"" "$sysroot/lib/rustlib/multirust-channel-manifest.toml" \
  || [ ! -d "$sysroot/lib/rustlib/src/rust/library" ] \
  || [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
  echo "[build-engine] $toolchain is not $pinned with rust-src and the wasm32 standard library: run bash tests/setup.sh" >&2
  exit 1
fi

RUSTUP_TOOLCHAIN="$toolchain" \
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none" \
  CARGO_TARGET_DIR=target/size \
  wasm-pack --quiet build . --target web --out-dir pkg --release -- -Zbuild-std=std,panic_abort

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/terser ] || [ ! -x node_modules/.bin/esbuild ]; then
  echo "[build-engine] node_modules lacks wasm-opt, terser or esbuild: run npm ci (tests/setup.sh)" >&2
  exit 1
fi
# strip = true drops the target-features section, so the features are named here.
node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --duplicate-function-elimination --remove-unused-module-elements \
  --coalesce-locals --reorder-locals \
  --dae-optimizing --code-folding --merge-blocks --remove-unused-brs --vacuum \
  --optimize-instructions --duplicate-function-elimination --remove-unused-module-elements \
  pkg/sidebar_auth_bg.wasm -o pkg/sidebar_auth_bg.wasm
node_modules/.bin/terser pkg/sidebar_auth.js --module --compress --mangle -o pkg/sidebar_auth.js
node build/shorten-wasm-names.mjs pkg/sidebar_auth_bg.wasm pkg/sidebar_auth.js
node build/bundle-pages.mjs
echo "$(rustup run "$toolchain" rustc -V) ($toolchain), build-std, panic=immediate-abort, location-detail=none, fmt-debug=none; wasm-opt, terser, short import and export names" \
  > target/engine-build.txt
