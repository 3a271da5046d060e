#!/usr/bin/env bash
# Installs what tcpsim needs from Debian's packages, only what is missing; quiet when nothing is.
# Idempotent. Runs apt-get as root, or through sudo for other users.
# --test: also what only the tests need (tshark reads the captures back, chromium renders the
# pictures); the plain build needs neither.
set -euo pipefail

packages=(g++ cmake make libboost-graph-dev catch2 nlohmann-json3-dev libfmt-dev libcli11-dev graphviz parallel libpcap-dev libjs-chart.js)
if [ "${1:-}" = "--test" ]; then packages+=(tshark chromium); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
    exit 1
  fi
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
