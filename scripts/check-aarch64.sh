#!/usr/bin/env bash
# scripts/check-aarch64.sh - cross-compile the fiber layer for aarch64 and run
# its switch tests under qemu-user, so the aarch64 assembly is tested on an
# x86-64 machine. Installs the cross toolchain if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh cross
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
aarch64-linux-gnu-gcc -std=c11 -O2 -static -D_GNU_SOURCE -Iinclude -Iruntime \
  tests/aarch64/fiber_main.c runtime/fiber.c runtime/fiber_aarch64.S runtime/stack.c \
  runtime/alloc.c runtime/futex.c -lm -o "$tmp/fiber_a64"
qemu-aarch64 "$tmp/fiber_a64"
