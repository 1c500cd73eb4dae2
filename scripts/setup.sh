#!/usr/bin/env bash
# Installs what distsys needs beyond the Rust toolchain, on Debian (run as root).
#   scripts/setup.sh          nothing extra is needed to build and test
#   scripts/setup.sh browser  chromium, to screenshot HTML reports
#   scripts/setup.sh redis    redis-tools (redis-cli, redis-benchmark) to talk to a node
#   scripts/setup.sh metrics  prometheus (promtool, to check /metrics)
#   scripts/setup.sh etcd     etcd-server and etcd-client (the peer of `bench cluster`)
#   scripts/setup.sh porcupine  golang-go, to build Porcupine for `bench check` (alias: go)
set -euo pipefail
groups=("$@")
packages=()
for group in "${groups[@]}"; do
  case "$group" in
    browser) packages+=(chromium) ;;
    redis) packages+=(redis-tools) ;;
    metrics) packages+=(prometheus) ;;
    etcd) packages+=(etcd-server etcd-client) ;;
    go|porcupine) packages+=(golang-go) ;;
    *) echo "unknown group: $group (known: browser, redis, metrics, etcd, porcupine)" >&2; exit 2 ;;
  esac
done
if [ ${#packages[@]} -eq 0 ]; then
  echo "nothing to install: building and testing need only cargo and cargo-nextest"
  exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
