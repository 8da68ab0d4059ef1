#!/usr/bin/env bash
# Installs everything the unit and interop tests need on Debian 12, then builds.
# Idempotent: each step is skipped when its result is already present, so a
# second run takes a couple of seconds. Run as root on a fresh machine (apt);
# as non-root it only checks the packages and does the npm/build steps.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt-install.sh

# Debian packages the interop tests (and the IM lab in /work/shared/peers.md)
# use. openssl: apr1 hashes for Squid's basic_ncsa_auth; procps: ps/pgrep for
# debugging leftovers; iproute2: ss. postgresql: the fleet store tests start
# their own cluster with initdb; chromium: the admin UI tests drive it with
# puppeteer-core (its own browser download cannot work offline).
apt_install install-test-deps squid c-icap clamav-daemon prosody ngircd dante-server curl netcat-openbsd socat openssl ca-certificates procps iproute2 postgresql chromium

# npm ci / build, each only when needed.
bash scripts/build.sh
echo "install-test-deps: ok"
