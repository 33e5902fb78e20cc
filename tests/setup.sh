#!/usr/bin/env bash
# Installs what a fresh machine of this kind lacks (Debian 12, Rust via rustup, Node 20).
# Idempotent: every step checks first, so a warm machine spends seconds here.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  log "installing Debian chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# xmllint (Debian libxml2-utils): the add-in's XML manifest must be well-formed (tests/addin).
if ! command -v xmllint >/dev/null; then
  log "installing Debian libxml2-utils (xmllint)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq libxml2-utils >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^${component}"; then
    rustup component add "$component"
  fi
done

# The shipped module is built by the nightly pinned in Cargo.toml (size-toolchain), with
# rust-src and the wasm32 standard library (build-engine.sh). The machine image ships a
# `nightly`; when it is that very build (its channel manifest has the pinned date), it is
# linked as `pinned-<channel>` (rustup refuses official names for links; no download);
# otherwise the pinned nightly is installed by name. build-engine.sh takes either.
size_toolchain=$(sed -n 's/^size-toolchain = "\(.*\)"$/\1/p' Cargo.toml)
size_date=${size_toolchain#nightly-}
if ! rustup run "$size_toolchain" rustc -V >/dev/null 2>&1; then
  size_toolchain="pinned-$size_toolchain"
fi
if ! rustup run "$size_toolchain" rustc -V >/dev/null 2>&1; then
  image_nightly=$(rustup run nightly rustc --print sysroot 2>/dev/null || true)
  if [ -n "$image_nightly" ] \
    && grep -qx "date = \"$size_date\"" "$image_nightly/lib/rustlib/multirust-channel-manifest.toml" 2>/dev/null; then
    for extra in rust-src; do
      rustup component list --installed --toolchain nightly | grep -qx "$extra" \
        || rustup component add "$extra" --toolchain nightly
    done
    rustup target list --installed --toolchain nightly | grep -qx wasm32-unknown-unknown \
      || rustup target add wasm32-unknown-unknown --toolchain nightly
    log "linking the image's nightly ($size_date) as $size_toolchain"
    rustup toolchain link "$size_toolchain" "$image_nightly"
  else
    size_toolchain=${size_toolchain#pinned-}
    log "installing $size_toolchain (the toolchain of the shipped module)"
    rustup toolchain install "$size_toolchain" --profile minimal \
      --component rust-src --target wasm32-unknown-unknown
  fi
fi
sysroot=$(rustup run "$size_toolchain" rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ] || [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
  echo "[setup] $size_toolchain lacks rust-src or wasm32-unknown-unknown" >&2
  exit 1
fi

WASM_PACK_VERSION=0.15.1
if ! wasm-pack --version 2>/dev/null | grep -q "$WASM_PACK_VERSION"; then
  log "installing wasm-pack $WASM_PACK_VERSION (a few minutes, once)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION"
fi

# wasm-bindgen-cli must match the wasm-bindgen version in Cargo.lock. wasm-pack cannot
# download it here; without --locked it builds (toolchain notes).
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${BINDGEN_VERSION}\$"; then
  log "installing wasm-bindgen-cli $BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION"
fi

# cargo-fuzz (libFuzzer) for the fuzz targets of tests/fuzz.sh; libfuzzer-sys builds
# libFuzzer itself with the system's C++ compiler.
CARGO_FUZZ_VERSION=0.13.2
if ! command -v c++ >/dev/null; then
  log "installing Debian g++ (libFuzzer is C++)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# npm packages (oidc-provider, playwright-core, esbuild for the extension build, the peers
# of the benchmarks: @azure/msal-browser, oauth4webapi, oidc-client-ts): only when the lock
# file changed, or when a package of package.json is missing or at another version than the
# one pinned there (a node_modules left by another branch: its mtime can be newer).
npm_packages_current() {
  node -e '
    const fs = require("fs");
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      let installed = null;
      try { installed = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8")).version; } catch {}
      if (installed !== version) process.exit(1);
    }'
}
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || ! npm_packages_current; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
