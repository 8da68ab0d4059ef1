#!/usr/bin/env bash
# One step from a fresh clone to a running gateway: installs the Node
# dependencies, builds, then runs `imgate start` in the foreground (JSON logs
# on stdout). Without --config it uses conf/imgate.yaml = the embedded
# defaults: ICAP 127.0.0.1:1344, SOCKS5 :1080, HTTP proxy :3129, admin :9090.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec node bin/imgate.js start "$@"
