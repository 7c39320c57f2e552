#!/usr/bin/env bash
# Fetches a node binary from the npm package node-linux-<arch>@<major> (or an exact x.y.z) with
# `npm pack` (the npm registry, nothing else) into <cache>/<version>/bin/node, unless it is there.
# scripts/node-matrix.sh sources it for install_node; run on its own it prints the binary's path
# (scripts/bench.js --node-major runs it so):
#
#   scripts/node-fetch.sh 26      # -> /.../.cache/node-matrix/26/bin/node
#
# NODE_MATRIX_CACHE: where the binaries go (default .cache/node-matrix).

node_fetch_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) echo "node-fetch: no node-linux-* package for $(uname -m)" >&2; return 1 ;;
  esac
}

# Installs node <major> (or an exact x.y.z) into $cache/<it>/bin/node unless it is there.
# Reads $cache and $arch.
install_node() {
  local major=$1 dir=$cache/$1
  local have
  have=$("$dir/bin/node" -p 'process.versions.node' 2>/dev/null) || have=
  if [ "${have%%.*}" = "$major" ] || [ "$have" = "$major" ]; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/node-matrix.XXXXXX") || return 1
  if ! (cd "$tmp" && npm pack "node-linux-$arch@$major" --silent --no-audit --no-fund >/dev/null); then
    echo "node-matrix: npm pack node-linux-$arch@$major failed" >&2
    rm -rf "$tmp"
    return 1
  fi
  local tarball
  tarball=$(ls "$tmp"/node-linux-"$arch"-*.tgz 2>/dev/null | head -n 1)
  mkdir -p "$tmp/out" &&
    tar -xzf "$tarball" -C "$tmp/out" --strip-components=1 package/bin/node &&
    "$tmp/out/bin/node" --version >/dev/null || {
    echo "node-matrix: could not unpack node from $tarball" >&2
    rm -rf "$tmp"
    return 1
  }
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$tmp/out" "$dir"
  rm -rf "$tmp"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  if [ $# -ne 1 ] || ! [[ $1 =~ ^[0-9]+(\.[0-9]+\.[0-9]+)?$ ]]; then
    echo "usage: scripts/node-fetch.sh <major or x.y.z>" >&2
    exit 2
  fi
  cd "$(dirname "$0")/.." || exit 1
  cache=${NODE_MATRIX_CACHE:-$PWD/.cache/node-matrix}
  arch=$(node_fetch_arch) || exit 1
  install_node "$1" || exit 1
  echo "$cache/$1/bin/node"
fi
