#!/usr/bin/env bash
# Node's ws client (permessage-deflate on and off) against ws6455 echo and
# ws6455 echo --async, and through ws6455 inspect to a Node ws server
# (context takeover).
# Installs the ws pinned in package-lock.json, builds ws6455, runs
# deflate.test.mjs and inspect.test.mjs with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund --loglevel=error
cargo build --quiet --bin ws6455
# The binary just built, wherever CARGO_TARGET_DIR puts it.
target_dir="$(cargo metadata --format-version 1 --no-deps |
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).target_directory)')"
export WS6455_BIN="${WS6455_BIN:-$target_dir/debug/ws6455}"
npm test
