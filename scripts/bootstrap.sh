#!/usr/bin/env bash
# Installs every build and test dependency of mod_md: Debian 12 packages, and pebble 2.10 from
# Debian unstable unpacked into .tools/ (the system's apt setup untouched). Idempotent: quiet and
# quick when everything is present; must run as root (or via sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config clang-format
      apache2 apache2-dev libssl-dev libcurl4-openssl-dev libjansson-dev
      libcmocka-dev python3-pytest python3-cryptography pebble curl openssl wrk)
# pebble 2.10 (ARI, profiles, IP identifiers, dns-persist-01) from Debian unstable: it needs
# only libc6 >= 2.34, which Debian 12 has
SID_MIRROR="http://deb.debian.org/debian"
SID_KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
PEBBLE_SID_DIR=".tools/pebble-sid"
PEBBLE_SID_MIN="2.10"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's apache2 package starts a system httpd on port 80; our tests run private
  # instances and must not depend on (or disturb) it.
  if [ -d /run/systemd/system ] || command -v service >/dev/null 2>&1; then
    $SUDO service apache2 stop >/dev/null 2>&1 || true
  fi
fi

# pebble from unstable: a private sources list and lists directory for apt-get update and
# download, then dpkg-deb -x into the project's .tools/ (nothing installed system-wide)
if [ ! -x "$PEBBLE_SID_DIR/usr/bin/pebble" ]; then
  echo "bootstrap: fetching pebble >= $PEBBLE_SID_MIN from Debian unstable into $PEBBLE_SID_DIR" >&2
  apt_dir=$(mktemp -d)
  trap 'rm -rf "$apt_dir"' EXIT
  mkdir -p "$apt_dir/lists/partial"
  echo "deb [signed-by=$SID_KEYRING] $SID_MIRROR sid main" > "$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
            -o "Dir::State::Lists=$apt_dir/lists" -o "APT::Get::List-Cleanup=0"
            -o "Acquire::Languages=none" -o "APT::Sandbox::User=root")
  apt-get -qq "${apt_opts[@]}" update >/dev/null
  (cd "$apt_dir" && apt-get -qq "${apt_opts[@]}" download pebble >/dev/null)
  deb=$(ls "$apt_dir"/pebble_*.deb)
  version=$(dpkg-deb -f "$deb" Version)
  if dpkg --compare-versions "$version" lt "$PEBBLE_SID_MIN"; then
    echo "bootstrap: Debian unstable has pebble $version, older than $PEBBLE_SID_MIN" >&2
    exit 1
  fi
  rm -rf "$PEBBLE_SID_DIR.new" && mkdir -p "$PEBBLE_SID_DIR.new"
  dpkg-deb -x "$deb" "$PEBBLE_SID_DIR.new"
  echo "$version" > "$PEBBLE_SID_DIR.new/VERSION"
  rm -rf "$PEBBLE_SID_DIR" && mv "$PEBBLE_SID_DIR.new" "$PEBBLE_SID_DIR"
fi
