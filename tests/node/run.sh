#!/usr/bin/env bash
# Node's ws client (permessage-deflate on and off) against ws6455 echo.
# Installs the ws pinned in package-lock.json, builds ws6455, runs
# deflate.test.mjs with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund --loglevel=error
cargo build --quiet --bin ws6455
npm test
