# Sourced by scripts/install-*-deps.sh. apt_install NAME PKG...: installs the
# Debian packages not yet installed; idempotent (nothing to do: no apt call).
# As non-root it only checks, and fails naming what is missing.
#
# Package postinst scripts would start their daemons (squid, c-icap, clamd,
# freshclam, which goes to the internet, prosody, ngircd, danted, haproxy) on
# their default ports, where they would collide with the tests and the bench,
# which start their own on free loopback ports. policy-rc.d exiting 101 forbids
# that; it is only created (and later removed) when the machine has none.
apt_install() {
  local name=$1; shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$name: missing packages (${missing[*]}); run this script as root" >&2
    return 1
  fi
  local created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, from imgate scripts/lib/apt-install.sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  echo "$name: installing ${missing[*]}"
  local rc=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } || rc=$?
  if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  return $rc
}
