#!/usr/bin/env bash
# Builds the npm package in pkg/: the core for wasm32 (release, simd128 from .cargo/config.toml), then
# wasm-bindgen's JS glue, then the files from pkg-template/. Incremental runs take seconds.
# No wasm-opt: Debian's binaryen output crashes in Chromium and npm's saves nothing here (DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --target wasm32-unknown-unknown -p vitrine --lib
wasm="${CARGO_TARGET_DIR:-target}"/wasm32-unknown-unknown/release/vitrine.wasm
out=pkg
gen="$out/wasm"
if [ ! -f "$gen/vitrine_bg.wasm" ] || [ "$wasm" -nt "$gen/vitrine_bg.wasm" ]; then
  rm -rf "$gen"
  wasm-bindgen "$wasm" --out-dir "$gen" --target web --remove-name-section --remove-producers-section
fi

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
size=$(wc -c < "$gen/vitrine_bg.wasm")
printf '[build] pkg/ ready: wasm %s bytes\n' "$size"
