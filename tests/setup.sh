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

# The size build of the release module (build-engine.sh) wants a nightly toolchain with
# rust-src and the wasm32 standard library. Optional: without one it builds with stable.
# This machine image ships `nightly` (2026-05-19) without them; otherwise that nightly is
# installed by date.
if rustup run nightly rustc -V >/dev/null 2>&1; then
  size_toolchain=nightly
else
  size_toolchain=nightly-2026-05-19
  if ! rustup run "$size_toolchain" rustc -V >/dev/null 2>&1; then
    log "installing $size_toolchain for the size build (optional)"
    rustup toolchain install "$size_toolchain" --profile minimal \
      || log "could not install $size_toolchain: the release module is built with stable"
  fi
fi
if rustup run "$size_toolchain" rustc -V >/dev/null 2>&1; then
  if ! rustup component list --installed --toolchain "$size_toolchain" | grep -qx rust-src; then
    log "adding rust-src to $size_toolchain (size build)"
    rustup component add rust-src --toolchain "$size_toolchain" || log "could not add rust-src"
  fi
  if ! rustup target list --installed --toolchain "$size_toolchain" | grep -qx wasm32-unknown-unknown; then
    log "adding wasm32-unknown-unknown to $size_toolchain (size build)"
    rustup target add wasm32-unknown-unknown --toolchain "$size_toolchain" || log "could not add wasm32"
  fi
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
