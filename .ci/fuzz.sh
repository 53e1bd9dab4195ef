#!/usr/bin/env bash
# Bounded fuzzing for CI: each cargo-fuzz target runs for FUZZ_SECONDS (default 30), built in
# the dev profile (`--dev`: overflow checks and debug assertions on, and a fresh checkout builds
# in a fraction of the release build's time).
# A crash leaves an input under scanner/fuzz/artifacts/<target>/: it is printed (hex) with the
# fuzzer's own report and the step fails. A failure that left no input (the build or the tool
# itself) is shown and retried once, then fails.
set -uo pipefail
cd "$(dirname "$0")/../scanner"
seconds="${FUZZ_SECONDS:-30}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet || exit 1
logs=../target/fuzz
mkdir -p "$logs"
# One build for every target, so a build problem shows as such.
if ! cargo fuzz build --dev --sanitizer none >"$logs/build.log" 2>&1; then
  echo "fuzz build failed:"; grep -v '^\s*Compiling' "$logs/build.log" | tail -n 60
  exit 1
fi
run() {
  local target=$1 log="$logs/$1.log"
  cargo fuzz run --dev --sanitizer none "$target" -- -max_total_time="$seconds" >"$log" 2>&1
  local rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "$target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)"
    return 0
  fi
  echo "$target: cargo fuzz exited $rc; its report:"
  grep -v -E '^\s*(Compiling|#[0-9]+\s+(NEW|REDUCE|pulse))' "$log" | tail -n 80
  local found
  found=$(ls -1 "fuzz/artifacts/$target" 2>/dev/null | head -n 5)
  if [ -n "$found" ]; then
    for f in $found; do
      echo "crashing input fuzz/artifacts/$target/$f:"
      od -A d -t x1z -v "fuzz/artifacts/$target/$f" | head -n 40
    done
    return 2
  fi
  return 1
}
for target in smtp_commands data_framing; do
  run "$target"
  rc=$?
  if [ "$rc" -eq 1 ]; then
    echo "$target: no crashing input was written; running it once more"
    run "$target" || exit 1
  elif [ "$rc" -ne 0 ]; then
    exit 1
  fi
done
