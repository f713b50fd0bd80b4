#!/usr/bin/env bash
# scripts/check-install.sh - install weft into a temporary prefix and build
# examples/hello.c against it: with pkg-config after moving the prefix (the
# .pc file is relocatable), statically with pkg-config --static, and with
# find_package. Then checks that a sanitizer build's .pc carries its flags.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S . -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$tmp/prefix" \
  -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCHMARKS=OFF -DWEFT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$tmp/build" -j"$(nproc)" >/dev/null
cmake --install "$tmp/build" --prefix "$tmp/staged" >/dev/null
mv "$tmp/staged" "$tmp/prefix" # relocated: the .pc must follow

export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/$(gcc -print-multiarch 2>/dev/null)/pkgconfig"
cc examples/hello.c $(pkg-config --cflags --libs weft) -o "$tmp/hello-pc"
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib/$(gcc -print-multiarch 2>/dev/null)" "$tmp/hello-pc" | tr '\n' ' '
echo "(pkg-config, relocated prefix)"
# glibc warns that getaddrinfo in a static program needs the shared NSS
# modules at run time; that warning is expected.
cc -static examples/hello.c $(pkg-config --static --cflags --libs weft) -o "$tmp/hello-static" 2>"$tmp/static.log" ||
  { cat "$tmp/static.log" >&2; exit 1; }
"$tmp/hello-static" | tr '\n' ' '
echo "(pkg-config --static)"

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

# A sanitizer build's .pc must make consumers build and link with it.
cmake -S . -B "$tmp/asan" -DWEFT_SANITIZE=address -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCHMARKS=OFF \
  -DWEFT_BUILD_EXAMPLES=OFF >/dev/null
grep -q '^Cflags:.*-fsanitize=address,undefined' "$tmp/asan/weft.pc" &&
  grep -q '^Libs:.*-fsanitize=address,undefined' "$tmp/asan/weft.pc" ||
  { echo "check-install: the ASan build's weft.pc lacks -fsanitize" >&2; exit 1; }
echo "(sanitizer flags in weft.pc)"
pkg-config --cflags weft | grep -q -- -fstack-clash-protection ||
  { echo "check-install: weft.pc does not pass -fstack-clash-protection on" >&2; exit 1; }
echo "(stack clash protection in weft.pc)"
