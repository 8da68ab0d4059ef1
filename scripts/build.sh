#!/usr/bin/env bash
# Node dependencies + TypeScript build, each skipped when already up to date.
# Used by start.sh and install-test-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node 20 is a prerequisite, not something apt can give us (Debian 12 ships 18).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "imgate: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  e.g. https://github.com/nodesource/distributions, then re-run." >&2
  exit 1
fi

# `npm ls` exits 0 only when node_modules matches package.json/lock: then
# there is nothing to install (and npm ci would needlessly wipe node_modules).
if ! npm ls --all >/dev/null 2>&1; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

# Rebuild only when a source or build setting is newer than the compiled CLI.
main_js=dist/src/cli/main.js
if [ ! -f "$main_js" ] || [ -n "$(find src icap socks bench types tsconfig.json package.json \
    -newer "$main_js" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
  npm run build --silent
fi
