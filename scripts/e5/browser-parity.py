#!/usr/bin/env python3
"""Writes tests/fixtures/e5-browser-parity.json: native vectors of a few Chinese, English and mixed texts
from `vitrine embed --model models/multilingual-e5-small-zh-en.gguf --role query|passage` (one text per
call line, batch 1, CPU), for tests/e2e/e5-parity.test.mjs to compare Chromium's with (cos >= 0.9999):
`vector` from the default i16 activations (the simd128 engine and WebGPU compute the same), `vector_i8`
with `--i8-blocks` (the relaxed-SIMD engine's i8 activations per block of 32).

    python3 scripts/e5/browser-parity.py target/release/vitrine   # or target/debug/vitrine

Rerun after the model file or the encoder changes; the fixture records the model's checksum.
"""
import json
import subprocess
import sys

MODEL = "models/multilingual-e5-small-zh-en.gguf"
TEXTS = [
    ("query", "降噪耳机"),
    ("query", "手机壳 透明"),
    ("query", "wireless earbuds"),
    ("query", "iPhone 15 手机壳 透明"),
    ("passage", "主动降噪无线蓝牙耳机"),
    ("passage", "补水保湿面霜 50ml 敏感肌可用"),
    ("passage", "儿童保温杯 带吸管 316不锈钢"),
    ("passage", "WHITE HANGING HEART T-LIGHT HOLDER"),
    ("passage", "Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ 全角 １２３ 🎄"),
    ("passage", "换季护肤正当时：面霜、精华、防晒满300减50"),
]


def main():
    binary = sys.argv[1]
    rows = []
    for role, text in TEXTS:
        row = {"role": role, "text": text}
        for key, extra in (("vector", []), ("vector_i8", ["--i8-blocks"])):
            out = subprocess.run(
                [binary, "embed", "--model", MODEL, "--role", role, "--batch", "1", "--device", "cpu"] + extra,
                input=text + "\n", capture_output=True, text=True, check=True)
            row[key] = json.loads(out.stdout.splitlines()[0])
        rows.append(row)
    info = subprocess.run(["sha256sum", MODEL], capture_output=True, text=True, check=True).stdout.split()[0]
    fixture = {"model": MODEL, "file_sha256": info, "rows": rows}
    with open("tests/fixtures/e5-browser-parity.json", "w") as f:
        json.dump(fixture, f, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
