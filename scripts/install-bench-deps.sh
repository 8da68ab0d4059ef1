#!/usr/bin/env bash
# Installs what `npm run bench` needs beyond scripts/install-test-deps.sh on
# Debian 12: the reference relays and tools of the SOCKS/TCP sections.
# haproxy: a `mode tcp` forwarder (splice on Linux) as the best-case relay;
# iperf3: the standard TCP throughput tool, as a second opinion on the bulk
# figures; proxychains4: drives iperf3 (control and data connection) through
# the SOCKS5 relays. Idempotent; run as root (apt); as non-root it only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt-install.sh

bash scripts/install-test-deps.sh
apt_install install-bench-deps haproxy iperf3 proxychains4
echo "install-bench-deps: ok"
