#!/usr/bin/env bash
# Installs everything Portcullis needs on Debian 12 and builds it.
#
#   bash tools/setup.sh
#
# Safe to run again: each step is skipped when its work is already done, so a
# second run on a ready machine takes a few seconds (plus an incremental
# build). Needs root, or sudo, only when Debian packages are missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive

# A Node.js runtime fetched by an earlier run (see ensure_node) comes first.
if [[ -x "$ROOT/.tools/node/bin/node" ]]; then
  export PATH="$ROOT/.tools/node/bin:$PATH"
fi

node_major() {
  local v
  v="$(node --version 2>/dev/null)" || { echo 0; return; }
  v="${v#v}"
  echo "${v%%.*}"
}

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# --- 1. Debian packages ------------------------------------------------------
PACKAGES=(build-essential meson ninja-build pkg-config git libcpp-httplib-dev
  nlohmann-json3-dev libssl-dev libyaml-cpp-dev libre2-dev libspdlog-dev doctest-dev
  libsqlite3-dev sqlite3 curl libpq-dev postgresql libphonenumber-dev libsimdjson-dev)
# Guardrails: Hyperscan on x86-64, its portable fork Vectorscan elsewhere.
if [[ "$(uname -m)" == x86_64 ]]; then PACKAGES+=(libhyperscan-dev); else PACKAGES+=(libvectorscan-dev); fi
if [[ "$(node_major)" -lt 20 ]] || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  step "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  step "Debian packages: all present"
fi

# --- 2. Node.js >= 20 --------------------------------------------------------
# Debian 12 ships Node 18; the integration tests need Node 20's test runner.
# When the system node is older, fetch the official Node 20 binary, which is
# published on the npm registry as node-linux-<arch>, into .tools/node.
ensure_node() {
  [[ "$(node_major)" -ge 20 ]] && return 0
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "system Node.js is $(node --version 2>/dev/null || echo missing), need >= 20" ;;
  esac
  step "system Node.js is $(node --version 2>/dev/null || echo missing); fetching Node 20 into .tools/node"
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-$arch@20" >/dev/null)
  rm -rf "$ROOT/.tools/node"
  mkdir -p "$ROOT/.tools/node"
  tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$ROOT/.tools/node" --strip-components=1
  rm -rf "$tmp"
  export PATH="$ROOT/.tools/node/bin:$PATH"
  [[ "$(node_major)" -ge 20 ]] || die "could not install Node.js >= 20"
}
ensure_node
step "node $(node --version), npm $(npm --version 2>/dev/null || echo '?')"

# --- 3. npm packages (MCP servers and the SDK client) -----------------------
# npm ci wipes node_modules, so it only runs when package*.json changed since
# the last successful install (recorded in node_modules/.portcullis-stamp).
stamp_now="$( (cat package.json package-lock.json 2>/dev/null; node --version) | sha256sum | cut -d' ' -f1)"
stamp_file=node_modules/.portcullis-stamp
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp_now" && -x node_modules/.bin/mcp-server-everything ]]; then
  step "npm packages: up to date"
else
  if [[ -f package-lock.json ]]; then
    step "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  else
    step "npm install"
    npm install --no-audit --no-fund --loglevel=error
  fi
  echo "$stamp_now" >"$stamp_file"
fi

# --- 4. Build ----------------------------------------------------------------
if [[ ! -f build/build.ninja ]]; then
  step "meson setup build"
  if [[ -d build/meson-private ]]; then
    meson setup --wipe build >/dev/null
  else
    meson setup build >/dev/null
  fi
fi
step "meson compile -C build"
if ! out="$(meson compile -C build 2>&1)"; then
  printf '%s\n' "$out" >&2
  die "build failed"
fi
step "ready: build/portcullis"
