#!/usr/bin/env bash
# Installs every build and test dependency of mod_md from Debian's archive.
# Idempotent: quiet and quick when everything is present; must run as root (or via sudo).
set -euo pipefail

PKGS=(build-essential pkg-config clang-format
      apache2 apache2-dev libssl-dev libcurl4-openssl-dev libjansson-dev
      libcmocka-dev python3-pytest python3-cryptography pebble curl openssl wrk)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's apache2 package starts a system httpd on port 80; our tests run private
# instances and must not depend on (or disturb) it.
if [ -d /run/systemd/system ] || command -v service >/dev/null 2>&1; then
  $SUDO service apache2 stop >/dev/null 2>&1 || true
fi
