#!/bin/bash
# http_hello.sh SERVER - two connections to the example HTTP server: two
# pipelined keep-alive requests (one with a body) ending with
# "Connection: close", then a plain one; checks the exact bytes returned.
set -eu
server=$1
out=$(mktemp -d)
trap 'kill $spid 2>/dev/null || true; rm -rf "$out"' EXIT
mkfifo "$out/fifo"
"$server" 0 2 2 >"$out/fifo" &
spid=$!
exec 3<"$out/fifo"
IFS= read -r first <&3
port=$(printf '%s\n' "$first" | sed -n 's|^Serving on http://127.0.0.1:\([0-9]*\)/.*|\1|p')
[ -n "$port" ] || { echo "server did not start: $first"; exit 1; }
resp=$'HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!'
exec 4<>/dev/tcp/127.0.0.1/"$port"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello' >&4
got=$(cat <&4)
[ "$got" = "$resp$resp" ] || { echo "pipelined: got [$got]"; exit 1; }
exec 4<&-
exec 4<>/dev/tcp/127.0.0.1/"$port"
printf 'GET /x HTTP/1.1\r\nHost: x\r\nconnection: Close\r\n\r\n' >&4
got=$(cat <&4)
[ "$got" = "$resp" ] || { echo "single: got [$got]"; exit 1; }
exec 4<&-
cat <&3 >/dev/null
wait $spid
echo "http ok"
