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

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^${component}"; then
    rustup component add "$component"
  fi
done

# The size build of the release module (build-engine.sh) needs nightly's rust-src and wasm32
# standard library. Optional: without them build-engine.sh builds with stable.
if rustup run nightly rustc -V >/dev/null 2>&1; then
  if ! rustup component list --installed --toolchain nightly | grep -qx rust-src; then
    log "adding rust-src to the nightly toolchain (size build)"
    rustup component add rust-src --toolchain nightly || log "could not add rust-src: stable build"
  fi
  if ! rustup target list --installed --toolchain nightly | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown --toolchain nightly || log "could not add wasm32 to nightly"
  fi
else
  log "no nightly toolchain: trying to install it for the size build"
  rustup toolchain install nightly --profile minimal --component rust-src \
    --target wasm32-unknown-unknown || log "nightly is not available: the release module is built with stable"
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

# npm packages (oidc-provider, playwright-core): only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
