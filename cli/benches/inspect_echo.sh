#!/usr/bin/env bash
# `ws6455 echo` with `ws6455 inspect` in front of it, as one server for the
# shared harness, which measures the inspector's cost beside the echo alone:
#
#   ../shared/bench/run.sh --idle 0 \
#     "ws6455=$PWD/target/release/ws6455 echo --quiet --listen 127.0.0.1:{PORT}" \
#     "inspected=$PWD/cli/benches/inspect_echo.sh {PORT}" \
#     "inspected-view=$PWD/cli/benches/inspect_echo.sh {PORT} --full"
#
# The inspector listens on PORT and relays to the echo on a free port; it
# records nothing and serves no page. With --full its live view formats
# every frame and message (written to /dev/null); without, it runs --quiet
# (connections, violations and ends only). The script stays in the
# foreground until SIGTERM, which stops both.
set -euo pipefail
PORT="$1"
QUIET=--quiet
[[ "${2:-}" == --full ]] && QUIET=
BIN="$(cd "$(dirname "$0")/../.." && pwd)/target/release/ws6455"
BANNER="$(mktemp)"
"$BIN" echo --quiet --listen 127.0.0.1:0 2>"$BANNER" & echo_pid=$!
trap 'kill "$echo_pid" ${inspect_pid:-} 2>/dev/null; rm -f "$BANNER"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$BANNER" && break
  sleep 0.05
done
ECHO_ADDR="$(sed -n 's/.*listening on ws:\/\/\([^ ]*\).*/\1/p' "$BANNER")"
"$BIN" inspect $QUIET --listen "127.0.0.1:$PORT" --upstream "ws://$ECHO_ADDR/" >/dev/null & inspect_pid=$!
trap 'kill "$echo_pid" "$inspect_pid" 2>/dev/null; rm -f "$BANNER"' EXIT TERM INT
wait "$inspect_pid"
