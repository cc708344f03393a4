#!/usr/bin/env bash
# Runs every test suite: native cargo tests, the wasm tests in headless Chromium, and the Playwright
# end-to-end tests against the demo page. Every suite runs even if an earlier one fails; the command fails
# if any did, and closes with the totals over all runners.
set -uo pipefail
cd "$(dirname "$0")/.."

export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
# Mesa's Vulkan drivers (the native GPU tests) print an error per device when this is unset, as it
# is on a CI runner or over ssh; a private empty directory quiets them and changes nothing else.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
logs=$(mktemp -d)
failed=()

suite() { # name command...
  local name=$1; shift
  printf '\n=== %s ===\n' "$name"
  if ! "$@" 2>&1 | tee "$logs/$name.log"; then
    failed+=("$name")
  fi
}

suite native cargo test --workspace --no-fail-fast
suite build bash scripts/build.sh
# The wasm test targets are the files with browser tests (today tests/web.rs; the others are native-only),
# found here so a new one is never skipped. In the release profile they reuse every dependency build.sh
# just compiled for wasm (a dev build compiled them all again: 5 min of a cold run, against about 1 min
# now) and test the profile that ships, without debug info (the module loads in Chromium 3x faster).
# The encoder tests run the whole model synchronously on the page; the runner's default 20 s per test is
# too short for them on a busy 2-core machine.
wasm_targets=()
for f in $(grep -l 'wasm_bindgen_test' tests/*.rs); do wasm_targets+=(--test "$(basename "$f" .rs)"); done
if grep -rq 'wasm_bindgen_test' src; then wasm_targets+=(--lib); fi
suite wasm env WASM_BINDGEN_TEST_TIMEOUT=600 \
  cargo test --release --target wasm32-unknown-unknown -p vitrine "${wasm_targets[@]}"
suite e2e node --test --test-reporter=spec tests/e2e/

# Totals over all runners (cargo: "test result: ... N passed; M failed"; node: "ℹ pass N" / "ℹ fail N").
pass=0; fail=0
for f in "$logs"/*.log; do
  p=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$f" | awk '{s+=$4} END {print s+0}')
  q=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$f" | awk '{s+=$6} END {print s+0}')
  np=$(grep -oE '^(ℹ|#) pass [0-9]+' "$f" | awk '{s+=$3} END {print s+0}')
  nf=$(grep -oE '^(ℹ|#) fail [0-9]+' "$f" | awk '{s+=$3} END {print s+0}')
  pass=$((pass + p + np)); fail=$((fail + q + nf))
done
rm -rf "$logs"

printf '\n=== summary ===\n'
if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed suites: %s\n' "${failed[*]}"
  # A suite can fail before any test runs (a build error): count it so the totals never read green.
  [ "$fail" -gt 0 ] || fail=${#failed[@]}
fi
printf 'total: %d passed, %d failed\n' "$pass" "$fail"
[ ${#failed[@]} -eq 0 ]
