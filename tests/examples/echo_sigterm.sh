#!/usr/bin/env bash
# echo_sigterm.sh SERVER - the graceful shutdown recipe: with idle clients
# connected, SIGTERM makes the echo server stop accepting, wait its grace
# period, abort the rest and exit 0.
set -eu
server=$1
out=$(mktemp -d)
trap 'kill $spid 2>/dev/null || true; rm -rf "$out"' EXIT
mkfifo "$out/fifo"
"$server" 0 0 200 >"$out/fifo" & # port 0, no connection count, 200 ms of grace
spid=$!
exec 3<"$out/fifo"
IFS= read -r first <&3
port=$(printf '%s\n' "$first" | sed -n "s/^Serving on ('127.0.0.1', \([0-9]*\))$/\1/p")
[ -n "$port" ] || { echo "server did not start: $first"; exit 1; }
# Three clients: two connect and say nothing (their handlers wait in a
# read), the third is served and closed normally.
exec 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port" 6<>"/dev/tcp/127.0.0.1/$port"
printf 'ping' >&6
kill -TERM $spid
status=0
wait $spid || status=$?
cat <&3 >"$out/rest"
[ "$status" = 0 ] || { echo "exit status $status"; cat "$out/rest"; exit 1; }
grep -q "^SIGTERM: closing, 200 ms of grace$" "$out/rest" || { cat "$out/rest"; exit 1; }
# The idle clients' connections were closed by the server (end of stream).
IFS= read -r -t 5 line <&4 || [ -z "${line:-}" ]
echo "graceful SIGTERM ok"
