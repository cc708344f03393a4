#!/usr/bin/env bash
# Rebuilds models/minilm-l6-q8_0.gguf and models/minilm-l6-small.gguf from the f32 reference model and
# checks them against models/SHA256SUMS: conversion is deterministic, so the bytes must be identical.
#
#   bash scripts/regenerate-models.sh           # regenerate and verify
#   bash scripts/regenerate-models.sh --update  # regenerate and rewrite SHA256SUMS (after a converter change)
#   bash scripts/regenerate-models.sh --session # also retrain models/session-beauty*.gguf (CPU, tens of
#                                               # minutes on 2 cores; needs ../shared/data/beauty)
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=.cache/minilm-f32
[ -f "$SRC/model.safetensors" ] || { echo "missing $SRC/model.safetensors: run 'bash scripts/setup.sh' first" >&2; exit 1; }

for variant in q8_0 small; do
  cargo run --quiet --release -p vitrine-cli -- convert --src "$SRC" --dtype "$variant" --out "models/minilm-l6-$variant.gguf"
done

if [ "${1:-}" = "--session" ]; then
  cargo run --quiet --release -p vitrine-cli -- train --data ../shared/data/beauty \
    --out models/session-beauty.gguf --epochs 16 --lr 2e-3 --seed 1 --patience 3 \
    --width 128 --heads 4 --ffn 256 --out-dims 128 --adapter-hidden 512
fi

cd models
if [ "${1:-}" = "--update" ]; then
  sha256sum minilm-l6-q8_0.gguf minilm-l6-small.gguf segments-onlineretail.json session-beauty.gguf \
    session-beauty-f32.gguf > SHA256SUMS
  echo "SHA256SUMS updated"
else
  sha256sum --check SHA256SUMS
fi
