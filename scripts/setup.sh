#!/usr/bin/env bash
# Installs what distsys needs beyond the Rust toolchain, on Debian (run as root).
#   scripts/setup.sh          nothing extra is needed to build and test
#   scripts/setup.sh browser  chromium, to screenshot HTML reports
set -euo pipefail
groups=("$@")
packages=()
for group in "${groups[@]}"; do
  case "$group" in
    browser) packages+=(chromium) ;;
    *) echo "unknown group: $group (known: browser)" >&2; exit 2 ;;
  esac
done
if [ ${#packages[@]} -eq 0 ]; then
  echo "nothing to install: building and testing need only cargo and cargo-nextest"
  exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
