#!/usr/bin/env bash
# Rebuilds the demo storefront's catalog (www/data/products.json) and its precomputed vectors
# (www/data/products.vcat, f16) from ../shared/data/onlineretail with the shipped q8_0 encoder.
# Run after changing the encoder or scripts/make-demo-catalog.mjs; commit both outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/make-demo-catalog.mjs
cargo run --release -q -p vitrine-cli -- embed-catalog --model models/minilm-l6-q8_0.gguf \
  --input target/demo-catalog.jsonl --out www/data/products.vcat --precision f16
# The on-device segments of the demo store: k-means over the intents of its real baskets.
cargo run --release -q -p vitrine-cli -- segments --vectors www/data/products.vcat \
  --sessions ../shared/data/onlineretail/transactions.csv --k 8 --out models/segments-onlineretail.json
(cd models && sed -i '/segments-onlineretail.json/d' SHA256SUMS && sha256sum segments-onlineretail.json >> SHA256SUMS)
