#!/usr/bin/env bash
# The chat page, the inspector's live page and both echoes in real
# Chromium. Installs what it needs on a fresh machine: Debian's chromium
# package (if /usr/bin/chromium is missing) and the pinned playwright-core from
# package-lock.json; builds ws6455; runs chat.test.mjs, inspect.test.mjs
# (which refreshes screenshots/inspect.png) and echo.test.mjs (Chromium's
# WebSocket against ws6455 echo and echo --async).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
cargo build --quiet --bin ws6455
# The test runs the binary just built, wherever CARGO_TARGET_DIR puts it.
if [ -z "${WS6455_BIN:-}" ]; then
    target_dir=$(cargo metadata --format-version 1 --no-deps \
        | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).target_directory)')
    export WS6455_BIN="$target_dir/debug/ws6455"
fi
npm test
