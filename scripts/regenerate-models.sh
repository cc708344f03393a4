#!/usr/bin/env bash
# Rebuilds models/minilm-l6-q8_0.gguf and models/minilm-l6-small.gguf from the f32 reference model and
# checks them against models/SHA256SUMS: conversion is deterministic, so the bytes must be identical.
#
#   bash scripts/regenerate-models.sh           # regenerate and verify
#   bash scripts/regenerate-models.sh --update  # regenerate and rewrite SHA256SUMS (after a converter change)
#   bash scripts/regenerate-models.sh --session # also retrain research/session-beauty*.gguf with one
#                                               # `vitrine train` (needs ../shared/data/beauty)
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=.cache/minilm-f32
[ -f "$SRC/model.safetensors" ] || { echo "missing $SRC/model.safetensors: run 'bash scripts/setup.sh' first" >&2; exit 1; }

for variant in q8_0 small; do
  cargo run --quiet --release -p vitrine-cli -- convert --src "$SRC" --dtype "$variant" --out "models/minilm-l6-$variant.gguf"
done

if [ "${1:-}" = "--session" ]; then
  # The research-only Beauty session model (research/README.md): one `vitrine train` command, its default
  # recipe (phases, early stopping and score mixes chosen on validation); deterministic for the seed.
  # It writes research/session-beauty.gguf, its f32 twin and the model card research/session-beauty.md.
  cargo run --quiet --release -p vitrine-cli -- train --data ../shared/data/beauty \
    --out research/session-beauty.gguf --seed 1
  (cd research && sha256sum session-beauty.gguf session-beauty-f32.gguf > SHA256SUMS)
fi

cd models
if [ "${1:-}" = "--update" ]; then
  sha256sum minilm-l6-q8_0.gguf minilm-l6-small.gguf segments-onlineretail.json > SHA256SUMS
  echo "SHA256SUMS updated"
else
  sha256sum --check SHA256SUMS
fi
