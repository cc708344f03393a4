//! Precomputed catalog vectors: the compact binary file `vitrine embed-catalog` writes and the SDK
//! loads from bytes, so a storefront never embeds its whole catalog in the shopper's browser.
//!
//! # File format, version 1 (all integers little-endian)
//!
//! | offset      | size          | field                                                        |
//! |-------------|---------------|--------------------------------------------------------------|
//! | 0           | 8             | magic `b"VTRNCAT\0"`                                         |
//! | 8           | 4             | format version, `1`                                          |
//! | 12          | 4             | vector type: `0` = f32, `1` = f16 (IEEE half)                |
//! | 16          | 4             | dims (vector length)                                         |
//! | 20          | 4             | count (number of items)                                      |
//! | 24          | 32            | SHA-256 of the encoder weights that made the vectors         |
//! | 56          | variable      | `count` ids, each a u32 byte length then UTF-8 bytes         |
//! | …           | count·dims·w  | vectors, row-major, `w` = 4 (f32) or 2 (f16)                 |
//! | end − 32    | 32            | SHA-256 of every byte before it                              |
//!
//! Vectors are L2-normalised when written by the CLI; f16 halves the file at a cosine cost below 1e-5.
//! The encoder checksum lets the SDK refuse vectors from another model than its query encoder.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// First bytes of every catalog file.
pub const MAGIC: &[u8; 8] = b"VTRNCAT\0";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 56;
const SHA_LEN: usize = 32;

/// How vectors are stored in the file (they are always f32 in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// 4 bytes per value, exact.
    F32,
    /// 2 bytes per value: half the size, ~3 significant digits, ample for cosine ranking.
    F16,
}

/// Item ids and their vectors, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    dims: usize,
    vectors: Vec<f32>,
    model_checksum: [u8; 32],
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Catalog(msg.into())
}

/// Reads little-endian fields off the front of a slice, failing (not panicking) past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad(format!("truncated while reading {what}")));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl Catalog {
    /// An empty catalog for vectors of `dims` made by the encoder whose weights hash to
    /// `model_checksum` (64 hex digits, [`crate::Encoder::checksum`]).
    pub fn new(dims: usize, model_checksum: &str) -> Result<Self> {
        if model_checksum.len() != 64 || dims == 0 || u32::try_from(dims).is_err() {
            return Err(Error::InvalidInput(
                "catalog needs dims > 0 and a 64-digit hex checksum".into(),
            ));
        }
        let mut sum = [0u8; 32];
        hex::decode_to_slice(model_checksum, &mut sum)
            .map_err(|e| Error::InvalidInput(format!("model checksum is not hex ({e})")))?;
        Ok(Self {
            ids: Vec::new(),
            index: HashMap::new(),
            dims,
            vectors: Vec::new(),
            model_checksum: sum,
        })
    }

    /// Appends one item; ids must be unique and vectors `dims` long.
    pub fn push(&mut self, id: impl Into<String>, vector: &[f32]) -> Result<()> {
        let id = id.into();
        if vector.len() != self.dims {
            return Err(Error::InvalidInput(format!(
                "vector for `{id}` has {} values, the catalog has {} dims",
                vector.len(),
                self.dims
            )));
        }
        if self.index.contains_key(&id) {
            return Err(Error::InvalidInput(format!("duplicate catalog id `{id}`")));
        }
        if vector.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "vector for `{id}` holds a NaN or infinity; re-encode the product"
            )));
        }
        self.index.insert(id.clone(), self.ids.len());
        self.ids.push(id);
        self.vectors.extend_from_slice(vector);
        Ok(())
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Vector length.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Ids in file order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// All vectors, row-major `[len, dims]`.
    pub fn vectors(&self) -> &[f32] {
        &self.vectors
    }

    /// The `i`-th vector.
    pub fn vector(&self, i: usize) -> Option<&[f32]> {
        self.vectors.get(i * self.dims..(i + 1) * self.dims)
    }

    /// The vector of an id.
    pub fn get(&self, id: &str) -> Option<&[f32]> {
        self.index.get(id).and_then(|&i| self.vector(i))
    }

    /// Hex SHA-256 of the encoder weights the vectors came from.
    pub fn model_checksum(&self) -> String {
        hex::encode(self.model_checksum)
    }

    /// Serialises to format version 1.
    pub fn to_bytes(&self, precision: Precision) -> Vec<u8> {
        let width = if precision == Precision::F32 { 4 } else { 2 };
        let ids_len: usize = self.ids.iter().map(|s| 4 + s.len()).sum();
        let mut out = Vec::with_capacity(HEADER_LEN + ids_len + self.vectors.len() * width + SHA_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&u32::from(precision == Precision::F16).to_le_bytes());
        // `new` checked dims fits u32; ids and lengths beyond u32 cannot come from a real catalog.
        out.extend_from_slice(&(self.dims as u32).to_le_bytes());
        out.extend_from_slice(&(self.ids.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.model_checksum);
        for id in &self.ids {
            out.extend_from_slice(&(id.len() as u32).to_le_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        for &x in &self.vectors {
            match precision {
                Precision::F32 => out.extend_from_slice(&x.to_le_bytes()),
                Precision::F16 => out.extend_from_slice(&half::f16::from_f32(x).to_le_bytes()),
            }
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Parses and verifies a catalog file (magic, version, sizes, checksum).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a Vitrine catalog (wrong magic)"));
        }
        if bytes.len() < HEADER_LEN + SHA_LEN {
            return Err(bad("truncated header"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - SHA_LEN);
        let mut r = Reader(&body[MAGIC.len()..]);
        let version = r.u32("version")?;
        if version != VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        let width = match r.u32("vector type")? {
            0 => 4,
            1 => 2,
            other => return Err(bad(format!("unknown vector type {other}"))),
        };
        let dims = r.u32("dims")? as usize;
        let count = r.u32("count")? as usize;
        if dims == 0 {
            return Err(bad("dims is 0"));
        }
        if Sha256::digest(body).as_slice() != sum {
            return Err(bad("checksum mismatch: the file is truncated or corrupted"));
        }
        let mut model_checksum = [0u8; 32];
        model_checksum.copy_from_slice(r.take(32, "model checksum")?);
        let mut catalog = Self {
            ids: Vec::new(),
            index: HashMap::new(),
            dims,
            vectors: Vec::new(),
            model_checksum,
        };
        // Each id takes at least 4 bytes: bounds `count` before allocating anything from it.
        if count > r.0.len() / 4 {
            return Err(bad("count exceeds the file size"));
        }
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.u32("id length")? as usize;
            let raw = r.take(len, "id")?;
            ids.push(
                std::str::from_utf8(raw)
                    .map_err(|_| bad("id is not UTF-8"))?
                    .to_string(),
            );
        }
        let n = count
            .checked_mul(dims)
            .ok_or_else(|| bad("count × dims overflows"))?;
        let raw = r.take(
            n.checked_mul(width).ok_or_else(|| bad("size overflows"))?,
            "vectors",
        )?;
        if !r.0.is_empty() {
            return Err(bad("unexpected bytes after the vectors"));
        }
        catalog.vectors = raw
            .chunks_exact(width)
            .map(|c| match *c {
                [a, b, c, d] => f32::from_le_bytes([a, b, c, d]),
                [a, b] => half::f16::from_le_bytes([a, b]).to_f32(),
                _ => f32::NAN,
            })
            .collect();
        // A NaN would score NaN, which sorts above every number: refused here rather than ranked first.
        if let Some(at) = catalog.vectors.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "the vector of `{}` holds a NaN or infinity",
                ids[at / dims]
            )));
        }
        for (i, id) in ids.iter().enumerate() {
            if catalog.index.insert(id.clone(), i).is_some() {
                return Err(bad(format!("duplicate id `{id}`")));
            }
        }
        catalog.ids = ids;
        Ok(catalog)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Catalog {
        let mut c = Catalog::new(3, &"ab".repeat(32)).unwrap();
        c.push("a", &[1.0, 0.0, 0.0]).unwrap();
        c.push("é🙂", &[0.0, 0.6, 0.8]).unwrap();
        c
    }

    #[test]
    fn round_trips_f32_exactly_and_f16_closely() {
        let c = sample();
        assert_eq!(Catalog::from_bytes(&c.to_bytes(Precision::F32)).unwrap(), c);
        let h = Catalog::from_bytes(&c.to_bytes(Precision::F16)).unwrap();
        assert_eq!(h.ids(), c.ids());
        assert_eq!(h.model_checksum(), "ab".repeat(32));
        for (a, b) in h.vectors().iter().zip(c.vectors()) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        assert_eq!(h.get("é🙂").unwrap().len(), 3);
    }

    #[test]
    fn rejects_bad_bytes() {
        let bytes = sample().to_bytes(Precision::F16);
        let err = |b: &[u8]| Catalog::from_bytes(b).unwrap_err().to_string();
        assert!(err(b"GGUF....").contains("wrong magic"));
        assert!(err(&bytes[..bytes.len() - 7]).contains("checksum"));
        assert!(err(&bytes[..20]).contains("truncated"));
        let mut flipped = bytes.clone();
        flipped[60] ^= 1;
        assert!(err(&flipped).contains("checksum"));
        let mut version = bytes.clone();
        version[8] = 9;
        assert!(err(&version).contains("version 9"));
        assert!(Catalog::new(3, "xyz").is_err());
        // Not hex, though `u8::from_str_radix` takes "+1" for 1.
        assert!(Catalog::new(3, &"+1".repeat(32)).is_err());
        assert!(Catalog::new(3, &"zz".repeat(32)).is_err());
        assert!(sample().push("a", &[0.0; 3]).is_err());
        assert!(sample().push("n", &[f32::NAN, 0.0, 0.0]).is_err());
    }

    #[test]
    fn refuses_non_finite_vectors() {
        for bad_value in [f32::NAN, f32::INFINITY] {
            // A file whose checksum is right but whose second vector holds `bad_value`.
            let bytes = sample().to_bytes(Precision::F32);
            let mut body = bytes[..bytes.len() - SHA_LEN].to_vec();
            let at = body.len() - 3 * 4;
            body[at..at + 4].copy_from_slice(&bad_value.to_le_bytes());
            let sum = Sha256::digest(&body);
            body.extend_from_slice(&sum);
            let err = Catalog::from_bytes(&body).unwrap_err().to_string();
            assert!(err.contains("`é🙂` holds a NaN or infinity"), "{err}");
        }
    }
}
