#!/usr/bin/env bash
# The README's demo: installs what is needed (bootstrap), builds, then runs scripts/demo.py:
# pebble + httpd with mod_md on loopback, a certificate obtained and served over HTTPS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
make -s -j2 all
exec /usr/bin/python3 scripts/demo.py
