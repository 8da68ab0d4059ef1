#!/usr/bin/env bash
# Installs everything the unit and interop tests need on Debian 12, then builds.
# Idempotent: each step is skipped when its result is already present, so a
# second run takes a couple of seconds. Run as root on a fresh machine (apt);
# as non-root it only checks the packages and does the npm/build steps.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the interop tests (and the IM lab in /work/shared/peers.md)
# use. openssl: apr1 hashes for Squid's basic_ncsa_auth; procps: ps/pgrep for
# debugging leftovers; iproute2: ss. postgresql: the fleet store tests start
# their own cluster with initdb; chromium: the admin UI tests drive it with
# puppeteer-core (its own browser download cannot work offline).
PKGS=(squid c-icap clamav-daemon prosody ngircd dante-server curl netcat-openbsd socat openssl ca-certificates procps iproute2 postgresql chromium)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: missing packages (${missing[*]}); run this script as root" >&2
    exit 1
  fi
  # Package postinst scripts would start squid, c-icap, clamd, freshclam (which
  # goes to the internet), prosody, ngircd and danted on their default ports,
  # where they would collide with the tests. policy-rc.d exiting 101 forbids
  # that; we only create (and later remove) it when the machine has none.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, from imgate scripts/install-test-deps.sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  cleanup_policy() { if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  echo "install-test-deps: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  cleanup_policy
  trap - EXIT
fi

# npm ci / build, each only when needed.
bash scripts/build.sh
echo "install-test-deps: ok"
