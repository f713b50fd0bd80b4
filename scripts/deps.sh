#!/usr/bin/env bash
# scripts/deps.sh - install the Debian packages weft needs, if missing.
#   scripts/deps.sh test    build + test dependencies
#   scripts/deps.sh bench   the above, plus the peers' toolchains (Go, Tokio)
#   scripts/deps.sh cross   the aarch64 cross compiler and qemu-user
# Works unattended (CI=true, no stdin) on a fresh Debian 12; uses sudo when
# not root.
set -euo pipefail
what=${1:-test}

pkgs=(build-essential cmake pkg-config libjemalloc-dev liburing-dev check valgrind python3 strace)
if [ "$what" = bench ]; then
  pkgs+=(golang-go librust-tokio-dev librust-async-channel-dev cargo libuv1-dev python3-uvloop wrk fio nginx-light gnuplot-nox)
elif [ "$what" = cross ]; then
  pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A cargo already on PATH (rustup) serves as well as Debian's.
if [ "$what" = bench ] && command -v cargo >/dev/null 2>&1; then
  missing=("${missing[@]/cargo}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
[ ${#want[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "weft: installing ${want[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
# nginx-light starts a system nginx on port 80 when installed; the benchmark
# runs its own, with a private config, so the service we just brought in is
# stopped and disabled again.
if [[ " ${want[*]} " == *" nginx-light "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi
