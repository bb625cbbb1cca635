#!/usr/bin/env bash
# Run the Autobahn|Testsuite (wstest) against ws6455 and check the results.
#
#   autobahn/run.sh server [--update-expected]   # wstest fuzzingclient -> our echo server
#   autobahn/run.sh client [--update-expected]   # our autobahn_client example -> wstest fuzzingserver
#   AUTOBAHN_ASYNC=1 autobahn/run.sh server|client   # the same through the tokio path
#   autobahn/run.sh install                      # only install wstest (cached virtualenv)
#
# Works from any cwd and non-interactively (CI=true, no stdin).  See README.md.
#
# Environment knobs (all optional):
#   AUTOBAHN_PORT=9001          port for the server under test / wstest fuzzingserver
#   AUTOBAHN_CASES='1.*,7.*'    run only these case patterns; the expected results are
#                               compared for the cases they select (and --update-expected
#                               is refused, since the case list is then incomplete)
#   AUTOBAHN_THROUGH=inspect    run through `ws6455 inspect --quiet`: wstest -> inspector ->
#                               echo server (server), or client -> inspector -> wstest
#                               (client); the same expected results must come out.  Reports
#                               go to reports/inspect-<mode>/, the inspector's output to
#                               reports/inspector-<mode>.log
#   AUTOBAHN_ASYNC=1            test the async path (feature `tokio`): wstest -> `ws6455 echo
#                               --async` (server), or the autobahn_client_async example ->
#                               wstest (client).  Compared with expected-results-<mode>-async.json
#                               (the blocking results: the two paths must agree case by case);
#                               reports go to reports/async-<mode>/ (inspect-async-<mode>/
#                               with AUTOBAHN_THROUGH=inspect)
#   AUTOBAHN_TIMEOUT=1800       overall limit (s) for the wstest run (server) / client run (client)
#   AUTOBAHN_STARTUP_TIMEOUT=30 how long (s) to wait for the port to accept connections
#   AUTOBAHN_AGENT=ws6455       agent name used when asking wstest to write the client report
#   AUTOBAHN_SERVER_CMD / AUTOBAHN_CLIENT_CMD
#                               replace the testee (and skip the cargo build), for testing
#                               this harness with a stand-in; the server command must listen
#                               on $AUTOBAHN_PORT, the client command gets the ws:// URL appended
#   AUTOBAHN_INSPECT_CMD        the same for the inspector (AUTOBAHN_THROUGH=inspect): it
#                               gets `--quiet --listen ADDR --upstream URL` appended
#   WSTEST_VENV=~/.cache/ws6455/wstest-venv   where wstest is installed (outside the repo)
#   WSTEST_PYTHON=/path/to/python2.7          interpreter for that virtualenv
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

usage() { echo "usage: $0 server|client [--update-expected]   |   $0 install" >&2; exit 2; }

MODE="${1:-}"
[[ "$MODE" == server || "$MODE" == client || "$MODE" == install ]] || usage
shift
UPDATE_EXPECTED=0
for arg in "$@"; do
  case "$arg" in
    --update-expected) UPDATE_EXPECTED=1 ;;
    *) usage ;;
  esac
done

PORT="${AUTOBAHN_PORT:-9001}"
TIMEOUT="${AUTOBAHN_TIMEOUT:-1800}"
STARTUP_TIMEOUT="${AUTOBAHN_STARTUP_TIMEOUT:-30}"
AGENT="${AUTOBAHN_AGENT:-ws6455}"
VENV="${WSTEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ws6455/wstest-venv}"
REQS="$HERE/wstest-requirements.txt"
THROUGH="${AUTOBAHN_THROUGH:-}"
ASYNC="${AUTOBAHN_ASYNC:-}"
[[ "$ASYNC" == 1 ]] || ASYNC=""
# names this run's reports, logs and lock: [inspect-][async-]<mode>
RUN_NAME="${THROUGH:+inspect-}${ASYNC:+async-}$MODE"
REPORT_DIR="$HERE/reports/$RUN_NAME"
LOG_DIR="$HERE/reports"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"   # relative paths are relative to $ROOT

log() { echo "[autobahn] $*"; }
die() { echo "[autobahn] ERROR: $*" >&2; exit 1; }

[[ -z "$THROUGH" || "$THROUGH" == inspect ]] || die "AUTOBAHN_THROUGH is 'inspect' or unset, not '$THROUGH'"
[[ -z "${AUTOBAHN_ASYNC:-}" || "$AUTOBAHN_ASYNC" == 0 || "$AUTOBAHN_ASYNC" == 1 ]] \
  || die "AUTOBAHN_ASYNC is 1, 0 or unset, not '$AUTOBAHN_ASYNC'"
# The expected results describe ws6455 itself, over the whole suite.
if (( UPDATE_EXPECTED )) && [[ -n "$THROUGH" || -n "${AUTOBAHN_CASES:-}" ]]; then
  die "--update-expected needs a full direct run: unset AUTOBAHN_CASES and AUTOBAHN_THROUGH"
fi

# ---------------------------------------------------------------- cleanup ----
TESTEE_PID=""
WSTEST_PID=""
INSPECTOR_PID=""
SPEC=""
stop_pid() {  # stop_pid PID NAME: TERM, wait up to 5 s, then KILL
  local pid="$1" name="$2" i
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$INSPECTOR_PID" "inspector";  INSPECTOR_PID=""
  stop_pid "$TESTEE_PID" "testee";  TESTEE_PID=""
  stop_pid "$WSTEST_PID" "wstest";  WSTEST_PID=""
  [[ -z "$SPEC" ]] || rm -f "$SPEC"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ install wstest --
find_python27() {
  local p root
  if [[ -n "${WSTEST_PYTHON:-}" ]]; then echo "$WSTEST_PYTHON"; return; fi
  for root in "$(pyenv root 2>/dev/null || true)" "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
    [[ -n "$root" ]] || continue
    for p in "$root"/versions/2.7*/bin/python2.7; do
      [[ -x "$p" ]] && { echo "$p"; return; }
    done
  done
  command -v python2.7 || true
}

ensure_wstest() {
  local want have py boot
  want="$(sha256sum "$REQS" | cut -d' ' -f1)"
  have="$(cat "$VENV/.ws6455-installed" 2>/dev/null || true)"
  if [[ "$have" == "$want" ]] && PYTHONWARNINGS=ignore "$VENV/bin/wstest" --help >/dev/null 2>&1; then
    return 0
  fi
  py="$(find_python27)"
  [[ -n "$py" && -x "$py" ]] || die "python2.7 not found (tried WSTEST_PYTHON, \$(pyenv root)/versions/2.7*/bin/python2.7, PATH)"
  log "installing wstest into $VENV using $py"
  local t0=$SECONDS
  export PIP_NO_PYTHON_VERSION_WARNING=1
  rm -rf "$VENV"
  if "$py" -m virtualenv --version >/dev/null 2>&1; then
    "$py" -m virtualenv --no-download -q "$VENV"
  else
    # No virtualenv module for py2.7: bootstrap the last virtualenv that runs on
    # py2.7 into a private directory instead of touching the interpreter itself.
    boot="$VENV.bootstrap"
    rm -rf "$boot"
    "$py" -m pip install -q --disable-pip-version-check --no-input --target "$boot" 'virtualenv==20.15.1'
    PYTHONPATH="$boot" "$py" -m virtualenv --no-download -q "$VENV"
    rm -rf "$boot"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$REQS"
  PYTHONWARNINGS=ignore "$VENV/bin/wstest" --help >/dev/null || die "wstest installed but 'wstest --help' fails"
  echo "$want" > "$VENV/.ws6455-installed"
  log "wstest installed in $((SECONDS - t0)) s"
}

ensure_wstest_locked() {  # serialise concurrent installs into the same venv
  mkdir -p "$(dirname "$VENV")"
  if command -v flock >/dev/null; then
    exec 9>"$VENV.lock"
    flock 9
    ensure_wstest
    exec 9>&-
  else
    ensure_wstest
  fi
}

# ------------------------------------------------------------------ helpers --
port_open() {  # port_open PORT: true if something accepts TCP connections on it
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

wait_port() {  # wait_port PORT PID NAME
  local port="$1" pid="$2" name="$3" deadline=$((SECONDS + STARTUP_TIMEOUT))
  while ! port_open "$port"; do
    kill -0 "$pid" 2>/dev/null || die "$name exited before listening on port $port"
    (( SECONDS < deadline )) || die "$name did not accept connections on port $port within ${STARTUP_TIMEOUT}s"
    sleep 0.2
  done
  log "$name is listening on 127.0.0.1:$port"
}

free_port() {  # a port nothing listens on now: the one the kernel picks for port 0
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

make_spec() {  # make_spec TEMPLATE -> path of a temp spec with port/outdir/cases applied
  local out
  out="$(mktemp "${TMPDIR:-/tmp}/ws6455-autobahn-$RUN_NAME.XXXXXX.json")"
  python3 - "$1" "$out" "$PORT" "$REPORT_DIR" "${AUTOBAHN_CASES:-}" <<'EOF'
import json, sys
template, out, port, outdir, cases = sys.argv[1:]
url = "ws://127.0.0.1:%s" % port
spec = json.load(open(template))
spec["outdir"] = outdir
if "servers" in spec:
    for s in spec["servers"]:
        s["url"] = url
else:
    spec["url"] = url
if cases:
    spec["cases"] = [c.strip() for c in cases.split(",") if c.strip()]
json.dump(spec, open(out, "w"), indent=2)
EOF
  echo "$out"
}

show_log_tail() {  # show_log_tail FILE NAME
  [[ -s "$1" ]] || return 0
  echo "----- last 40 lines of $2 log ($1) -----"
  tail -n 40 "$1"
  echo "----- end of $2 log -----"
}

# Ask wstest (fuzzingserver mode) to write its report, in case the client did
# not.  A bare WebSocket handshake on /updateReports is enough; wstest writes
# the reports, then sends a close frame, which we wait for.
request_client_report() {
  python3 - "$PORT" "$AGENT" <<'EOF'
import base64, os, socket, sys, urllib.parse
port, agent = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=120)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /updateReports?agent=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n" % (urllib.parse.quote(agent), port, key)).encode())
buf = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if sep and not head.startswith(b"HTTP/1.1 101"):
        sys.exit("wstest refused /updateReports: %r" % head.split(b"\r\n")[0])
    if sep and len(rest) >= 1 and (rest[0] & 0x0F) == 0x8:  # close frame: report done
        s.sendall(b"\x88\x80" + os.urandom(4))            # masked empty close
        break
s.close()
EOF
}

# --------------------------------------------------------------------- main --
ensure_wstest_locked
WSTEST="$VENV/bin/wstest"
if [[ "$MODE" == install ]]; then log "wstest is ready: $WSTEST"; exit 0; fi
export PYTHONWARNINGS=ignore   # silence py2 deprecation noise from cryptography

check_port_free() {  # called right before starting the listener, i.e. after any build
  if port_open "$PORT"; then
    die "port $PORT is already in use; stop whatever listens there or set AUTOBAHN_PORT"
  fi
}

# AUTOBAHN_THROUGH=inspect: `ws6455 inspect` between wstest and ws6455.
INSPECTOR_LOG="$HERE/reports/inspector-${ASYNC:+async-}$MODE.log"
start_inspector() {  # start_inspector LISTEN_PORT UPSTREAM_URL
  local listen="127.0.0.1:$1" upstream="$2"
  if port_open "$1"; then die "port $1 (for the inspector) is already in use"; fi
  log "starting the inspector on $listen, upstream $upstream (log: $INSPECTOR_LOG)"
  if [[ -n "${AUTOBAHN_INSPECT_CMD:-}" ]]; then
    ( cd "$ROOT" && exec bash -c "exec $AUTOBAHN_INSPECT_CMD \"\$@\"" inspect \
        --quiet --listen "$listen" --upstream "$upstream" ) >"$INSPECTOR_LOG" 2>&1 </dev/null 8>&- &
  else
    ( cd "$ROOT" && exec "$TARGET_DIR/release/ws6455" inspect \
        --quiet --listen "$listen" --upstream "$upstream" ) >"$INSPECTOR_LOG" 2>&1 </dev/null 8>&- &
  fi
  INSPECTOR_PID=$!
  wait_port "$1" "$INSPECTOR_PID" "the inspector"
}

stop_inspector() {  # fails the run if the inspector died or panicked; counts its violations
  local rc panics by_client by_server
  if ! kill -0 "$INSPECTOR_PID" 2>/dev/null; then
    wait "$INSPECTOR_PID" 2>/dev/null && rc=0 || rc=$?
    log "the inspector exited during the run (exit $rc) -- crash?"
    RUN_FAILED=1
    show_log_tail "$INSPECTOR_LOG" inspector
  fi
  stop_pid "$INSPECTOR_PID" "inspector"; INSPECTOR_PID=""
  panics="$(grep -c 'panicked at' "$INSPECTOR_LOG" || true)"
  if (( panics > 0 )); then
    log "the inspector panicked $panics time(s):"
    grep -A2 'panicked at' "$INSPECTOR_LOG" | head -n 30
    RUN_FAILED=1
  fi
  # One line per violation: "#N VIOLATION by the client: RFC 6455 §5.1: ...".
  by_client="$(grep -c 'VIOLATION by the client' "$INSPECTOR_LOG" || true)"
  by_server="$(grep -c 'VIOLATION by the server' "$INSPECTOR_LOG" || true)"
  log "the inspector reported $by_client violation(s) by the client and $by_server by the server"
  grep -oE 'VIOLATION by the (client|server): RFC [0-9]+ §[0-9]+(\.[0-9]+)*' "$INSPECTOR_LOG" \
    | sed 's/^VIOLATION //' | sort | uniq -c || true
}

# Two runs of the same mode in one checkout would delete each other's reports.
mkdir -p "$LOG_DIR"
if command -v flock >/dev/null; then
  exec 8>"$LOG_DIR/.run-$RUN_NAME.lock"
  flock -n 8 || die "another 'run.sh $MODE'${ASYNC:+ on the async path}${THROUGH:+ through the inspector} is already running in this checkout ($HERE)"
fi
rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"
TESTEE_LOG="$LOG_DIR/testee-$RUN_NAME.log"
WSTEST_LOG="$LOG_DIR/wstest-$RUN_NAME.log"
rm -f "$TESTEE_LOG" "$WSTEST_LOG"
[[ -z "$THROUGH" ]] || rm -f "$INSPECTOR_LOG"

CHECK_ARGS=("$MODE" --report "$REPORT_DIR/index.json")
[[ -z "$ASYNC" ]] || CHECK_ARGS+=(--async)
[[ -z "${AUTOBAHN_CASES:-}" ]] || { log "AUTOBAHN_CASES=$AUTOBAHN_CASES: comparing the expected results of these cases"; CHECK_ARGS+=(--cases "$AUTOBAHN_CASES"); }
(( UPDATE_EXPECTED == 0 )) || CHECK_ARGS+=(--write-expected)

# The ws6455 binary: the echo server, and the inspector when it is not a stand-in.
NEED_WS6455=0
[[ "$MODE" == server && -z "${AUTOBAHN_SERVER_CMD:-}" ]] && NEED_WS6455=1
[[ -n "$THROUGH" && -z "${AUTOBAHN_INSPECT_CMD:-}" ]] && NEED_WS6455=1
if (( NEED_WS6455 )); then
  log "building ws6455 (cargo build --release)"
  ( cd "$ROOT" && cargo build --release )
fi

RUN_FAILED=0

if [[ "$MODE" == server ]]; then
  SPEC="$(make_spec "$HERE/fuzzingclient.json")"
  check_port_free
  # wstest connects to $PORT: the echo server's, or the inspector's in front of it.
  ECHO_PORT="$PORT"
  [[ -z "$THROUGH" ]] || ECHO_PORT="$(free_port)"
  if [[ -n "${AUTOBAHN_SERVER_CMD:-}" ]]; then
    log "using stand-in server: $AUTOBAHN_SERVER_CMD"
    ( cd "$ROOT" && AUTOBAHN_PORT="$ECHO_PORT" exec bash -c "exec $AUTOBAHN_SERVER_CMD" ) >"$TESTEE_LOG" 2>&1 </dev/null 8>&- &
    TESTEE_PID=$!
  else
    ( cd "$ROOT" && exec "$TARGET_DIR/release/ws6455" echo ${ASYNC:+--async} --listen "127.0.0.1:$ECHO_PORT" ) >"$TESTEE_LOG" 2>&1 </dev/null 8>&- &
    TESTEE_PID=$!
  fi
  wait_port "$ECHO_PORT" "$TESTEE_PID" "server under test"
  [[ -z "$THROUGH" ]] || start_inspector "$PORT" "ws://127.0.0.1:$ECHO_PORT/"

  log "running wstest -m fuzzingclient (limit ${TIMEOUT}s; log: $WSTEST_LOG)"
  t0=$SECONDS
  rc=0
  # Background + wait (not a foreground command): bash runs traps only between
  # commands, and `wait` is interruptible, so INT/TERM still clean up at once.
  ( cd "$HERE" && exec timeout "$TIMEOUT" "$WSTEST" -m fuzzingclient -s "$SPEC" ) >"$WSTEST_LOG" 2>&1 </dev/null 8>&- &
  WSTEST_PID=$!
  wait "$WSTEST_PID" || rc=$?
  WSTEST_PID=""
  log "wstest finished in $((SECONDS - t0)) s (exit $rc); $(grep -c '^Running test case' "$WSTEST_LOG" || true) case(s) run"
  if (( rc == 124 )); then log "wstest timed out after ${TIMEOUT}s"; fi
  if (( rc != 0 )); then RUN_FAILED=1; show_log_tail "$WSTEST_LOG" wstest; fi
  [[ -z "$THROUGH" ]] || stop_inspector
  if ! kill -0 "$TESTEE_PID" 2>/dev/null; then
    wait "$TESTEE_PID" 2>/dev/null && srv_rc=0 || srv_rc=$?
    TESTEE_PID=""
    log "the server under test exited during the run (exit $srv_rc) -- crash?"
    RUN_FAILED=1
    show_log_tail "$TESTEE_LOG" server
  fi
  stop_pid "$TESTEE_PID" "server under test"; TESTEE_PID=""

else  # client
  SPEC="$(make_spec "$HERE/fuzzingserver.json")"
  # The client example: the blocking one, or the one on tokio.
  CLIENT_EXAMPLE=(--example autobahn_client)
  [[ -z "$ASYNC" ]] || CLIENT_EXAMPLE=(--features tokio --example autobahn_client_async)
  if [[ -z "${AUTOBAHN_CLIENT_CMD:-}" ]]; then
    log "building the client (cargo build --release ${CLIENT_EXAMPLE[*]})"
    ( cd "$ROOT" && cargo build --release "${CLIENT_EXAMPLE[@]}" )
  fi
  check_port_free
  log "starting wstest -m fuzzingserver on port $PORT (log: $WSTEST_LOG)"
  ( cd "$HERE" && exec "$WSTEST" -m fuzzingserver -s "$SPEC" --webport 0 ) >"$WSTEST_LOG" 2>&1 </dev/null 8>&- &
  WSTEST_PID=$!
  wait_port "$PORT" "$WSTEST_PID" "wstest fuzzingserver"

  URL="ws://127.0.0.1:$PORT"
  if [[ -n "$THROUGH" ]]; then
    INSPECTOR_PORT="$(free_port)"
    start_inspector "$INSPECTOR_PORT" "$URL"
    URL="ws://127.0.0.1:$INSPECTOR_PORT"
  fi
  log "running the client against $URL (limit ${TIMEOUT}s; log: $TESTEE_LOG)"
  t0=$SECONDS
  rc=0
  if [[ -n "${AUTOBAHN_CLIENT_CMD:-}" ]]; then
    ( cd "$ROOT" && exec timeout "$TIMEOUT" bash -c "exec $AUTOBAHN_CLIENT_CMD \"\$0\"" "$URL" ) >"$TESTEE_LOG" 2>&1 </dev/null 8>&- &
  else
    ( cd "$ROOT" && exec timeout "$TIMEOUT" cargo run --release "${CLIENT_EXAMPLE[@]}" -- "$URL" ) >"$TESTEE_LOG" 2>&1 </dev/null 8>&- &
  fi
  TESTEE_PID=$!
  wait "$TESTEE_PID" || rc=$?
  TESTEE_PID=""
  log "client finished in $((SECONDS - t0)) s (exit $rc)"
  if (( rc == 124 )); then log "client timed out after ${TIMEOUT}s"; fi
  if (( rc != 0 )); then RUN_FAILED=1; show_log_tail "$TESTEE_LOG" client; fi
  [[ -z "$THROUGH" ]] || stop_inspector

  if kill -0 "$WSTEST_PID" 2>/dev/null; then
    request_client_report || { log "could not get wstest to write the report"; RUN_FAILED=1; }
  else
    log "wstest fuzzingserver exited unexpectedly"
    RUN_FAILED=1
  fi
  stop_pid "$WSTEST_PID" "wstest"; WSTEST_PID=""
  if (( RUN_FAILED )); then show_log_tail "$WSTEST_LOG" wstest; fi
fi

log "HTML report: $REPORT_DIR/index.html"
check_rc=0
python3 "$HERE/check.py" "${CHECK_ARGS[@]}" || check_rc=$?
if (( RUN_FAILED )); then
  log "FAILED: the test run itself did not complete cleanly (see above)"
  exit 1
fi
exit "$check_rc"
