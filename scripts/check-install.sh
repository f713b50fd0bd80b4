#!/usr/bin/env bash
# scripts/check-install.sh - install weft into a temporary prefix and build
# examples/hello.c against it twice: with pkg-config and with find_package.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S . -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$tmp/prefix" \
  -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCHMARKS=OFF -DWEFT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$tmp/build" -j"$(nproc)" >/dev/null
cmake --install "$tmp/build" >/dev/null

export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/$(gcc -print-multiarch 2>/dev/null)/pkgconfig"
cc examples/hello.c $(pkg-config --cflags --libs weft) -o "$tmp/hello-pc"
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib/$(gcc -print-multiarch 2>/dev/null)" "$tmp/hello-pc" | tr '\n' ' '
echo "(pkg-config)"

mkdir -p "$tmp/consumer"
cp examples/hello.c "$tmp/consumer/"
cat > "$tmp/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(weft REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE weft::weft_static)
CM
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer/build" >/dev/null
"$tmp/consumer/build/hello" | tr '\n' ' '
echo "(find_package)"
