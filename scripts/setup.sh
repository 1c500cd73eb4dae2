#!/usr/bin/env bash
# Installs what distsys needs beyond the Rust toolchain, on Debian: as root, or through sudo
# when it is there (without either it says what to run and exits 2).
#   scripts/setup.sh          nothing extra is needed to build and test
#   scripts/setup.sh browser  chromium, to screenshot HTML reports
#   scripts/setup.sh redis    redis-tools (redis-cli, redis-benchmark) and redis-server (the peer of `bench cluster`)
#   scripts/setup.sh metrics  prometheus (promtool, to check /metrics)
#   scripts/setup.sh etcd     etcd-server and etcd-client (the peer of `bench cluster`)
#   scripts/setup.sh porcupine  golang-go, to build Porcupine for `bench check` (alias: go)
set -euo pipefail
groups=("$@")
packages=()
for group in "${groups[@]}"; do
  case "$group" in
    browser) packages+=(chromium) ;;
    redis) packages+=(redis-tools redis-server) ;;
    metrics) packages+=(prometheus) ;;
    etcd) packages+=(etcd-server etcd-client) ;;
    go|porcupine) packages+=(golang-go) ;;
    *) echo "unknown group: $group (known: browser, redis, metrics, etcd, porcupine)" >&2; exit 2 ;;
  esac
done
if [ ${#packages[@]} -eq 0 ]; then
  echo "nothing to install: building and testing need only cargo and cargo-nextest."
  echo "optional groups (scripts/setup.sh GROUP...):"
  sed -n 's/^#   scripts\/setup.sh \([a-z]\+\) \+/  \1: /p' "$0"
  exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "setup.sh: installing ${packages[*]} needs root, and there is no sudo here;" >&2
    echo "  run as root: apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 2
  fi
fi
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
