#!/usr/bin/env bash
# Builds the npm package in pkg/: the core for wasm32 (release, simd128 from .cargo/config.toml, and once
# more with relaxed SIMD), then wasm-bindgen's JS glue, then the files from pkg-template/. Incremental
# runs take about a minute (the two engine builds recompile the vitrine crate in turn).
# No wasm-opt: Debian's binaryen output crashes in Chromium and npm's saves nothing here (DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")/.."

out=pkg
gen="$out/wasm"
mkdir -p "$gen"
target="${CARGO_TARGET_DIR:-target}"/wasm32-unknown-unknown/release

# The engine twice: with relaxed SIMD (its q4_0 kernel; Chromium and Firefox run it) and without
# (Safari); host.js picks one per browser. The relaxed flag goes to the vitrine crate alone through
# `cargo rustc`, so both builds share every compiled dependency; the price is that each build
# recompiles the crate (≈ 40 s) instead of a separate target directory's cold build (≈ 4.5 min).
# The two must need the same JS glue, or one glue file could not load both.
cargo rustc --release --target wasm32-unknown-unknown -p vitrine --lib -- -C target-feature=+relaxed-simd
relaxed=$(mktemp -d)
trap 'rm -rf "$relaxed"' EXIT
wasm-bindgen "$target/vitrine.wasm" --out-dir "$relaxed" --out-name vitrine --target web --remove-name-section --remove-producers-section
# Then the simd128 engine and the DAP module (dap-wasm/, loaded only by pages that configure `dap`):
# two cargo runs, since one would unify their features and put prio and HPKE into the engine.
cargo build --release --target wasm32-unknown-unknown -p vitrine --lib
cargo build --release --target wasm32-unknown-unknown -p vitrine-dap-wasm --lib
for pair in vitrine:vitrine vitrine_dap_wasm:vitrine_dap; do
  wasm="$target/${pair%%:*}.wasm"
  name=${pair##*:}
  if [ ! -f "$gen/${name}_bg.wasm" ] || [ "$wasm" -nt "$gen/${name}_bg.wasm" ]; then
    wasm-bindgen "$wasm" --out-dir "$gen" --out-name "$name" --target web --remove-name-section --remove-producers-section
  fi
done
cmp -s "$relaxed/vitrine.js" "$gen/vitrine.js" || { echo "[build] the relaxed-SIMD engine needs other JS glue" >&2; exit 1; }
cp "$relaxed/vitrine_bg.wasm" "$gen/vitrine_relaxed_bg.wasm"
# The split holds only if each module exports its own part (one cargo run for both would merge features).
! grep -q 'DapReporter' "$gen/vitrine.d.ts" || { echo "[build] the engine exports the DAP client" >&2; exit 1; }
! grep -q 'class Engine' "$gen/vitrine_dap.d.ts" || { echo "[build] the DAP module exports the engine" >&2; exit 1; }

# The package: the template's files plus the generated glue, the license and the notices.
cp -R pkg-template/. "$out/"
cp LICENSE NOTICE "$out/"
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
  const root = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const cargo = fs.readFileSync("Cargo.toml", "utf8").match(/^version = "([^"]+)"/m)[1];
  p.version = cargo;   // one version for the crate and the package
  fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");
'
printf '[build] pkg/ ready: engine wasm %s bytes (relaxed SIMD %s), DAP module %s bytes\n' \
  "$(wc -c < "$gen/vitrine_bg.wasm")" "$(wc -c < "$gen/vitrine_relaxed_bg.wasm")" "$(wc -c < "$gen/vitrine_dap_bg.wasm")"
