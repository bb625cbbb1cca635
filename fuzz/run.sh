#!/usr/bin/env bash
# Runs the fuzz targets briefly, as CI does, and fails on any crash.
#
#   fuzz/run.sh                    # every target, FUZZ_SECONDS (default 30) each
#   fuzz/run.sh read_server mask   # only these targets
#
# Installs cargo-fuzz if it is missing, writes the seed corpora, builds all
# targets on the stable toolchain (--sanitizer none), then runs each one in
# turn. A target fails if libFuzzer exits non-zero or leaves a new file in
# fuzz/artifacts/<target>/ (a crash, timeout or leak reproducer).
# Logs go to fuzz/target/logs/<target>.log. See fuzz/README.md.
set -euo pipefail

FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$FUZZ/.."
SECONDS_EACH="${FUZZ_SECONDS:-30}"
LOGS="$FUZZ/target/logs"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "== fuzz: seed corpora"
cargo run --quiet --manifest-path "$FUZZ/Cargo.toml" --example seeds

echo "== fuzz: build"
cargo fuzz build --sanitizer none

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

mkdir -p "$LOGS"
failed=()
for target in "${targets[@]}"; do
  artifacts="$FUZZ/artifacts/$target"
  mkdir -p "$artifacts"
  before="$(ls -A "$artifacts")"
  log="$LOGS/$target.log"
  status=0
  cargo fuzz run --sanitizer none "$target" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  if [[ $status -ne 0 || "$(ls -A "$artifacts")" != "$before" ]]; then
    echo "FAIL $target (exit $status); the end of $log:"
    tail -n 40 "$log"
    failed+=("$target")
  else
    echo "ok   $target: ${runs:-?} executions in ${SECONDS_EACH} s"
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz targets that failed: ${failed[*]}; reproducers are in fuzz/artifacts/"
  exit 1
fi
