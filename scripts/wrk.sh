#!/usr/bin/env bash
# Installs wrk, the HTTP load generator the comparison's `http` workload runs (the Debian
# package), when it is missing. Uses sudo when not run as root.
# Usage: bash scripts/wrk.sh
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
    echo "wrk: $(command -v wrk)"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq wrk >/dev/null 2>&1 || {
    $sudo apt-get update -qq >/dev/null 2>&1
    $sudo apt-get install -y -qq wrk >/dev/null
}
echo "wrk: installed at $(command -v wrk)"
