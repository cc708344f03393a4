//! Text vectors by key: product ids from catalog files, plus titles and queries encoded on the device
//! (bounded: the encoded cache is dropped when full, which is rare and costs only re-encoding).

use std::collections::{HashMap, HashSet};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::Encoder;
use crate::rank::Candidate;

/// Encoded vectors kept at most; beyond it the cache restarts.
const MAX_ENCODED: usize = 20_000;
/// Titles encoded per encoder call: bounds the padded batch (and the time one call blocks).
const BATCH: usize = 16;

#[derive(Default)]
pub(super) struct VectorStore {
    model: Option<String>,
    catalog: HashMap<String, Vec<f32>>,
    encoded: HashMap<String, Vec<f32>>,
}

impl VectorStore {
    /// Queries share the map with product ids under a prefix no product id is expected to use.
    pub fn query_key(query: &str) -> String {
        format!("\u{0}q:{}", query.trim().to_lowercase())
    }

    /// A new encoder invalidates everything made by another one.
    pub fn set_model(&mut self, checksum: &str) {
        if self.model.as_deref() != Some(checksum) {
            self.catalog.clear();
            self.encoded.clear();
            self.model = Some(checksum.to_owned());
        }
    }

    pub fn add_catalog(&mut self, catalog: &Catalog) -> Result<usize> {
        let checksum = catalog.model_checksum();
        match &self.model {
            Some(m) if *m != checksum => {
                return Err(Error::Catalog(format!(
                    "made by encoder {}, but the engine's vectors come from {}",
                    &checksum[..12],
                    &m[..12.min(m.len())]
                )))
            }
            _ => self.model = Some(checksum),
        }
        for (i, id) in catalog.ids().iter().enumerate() {
            if let Some(v) = catalog.vector(i) {
                self.catalog.insert(id.clone(), v.to_vec());
            }
        }
        Ok(self.catalog.len())
    }

    pub fn get(&self, key: &str) -> Option<&[f32]> {
        self.catalog
            .get(key)
            .or_else(|| self.encoded.get(key))
            .map(Vec::as_slice)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn catalog_len(&self) -> usize {
        self.catalog.len()
    }

    pub fn encoded_len(&self) -> usize {
        self.encoded.len()
    }

    pub fn clear_encoded(&mut self) {
        self.encoded.clear();
    }

    /// `(id, title)` of the candidates that carry a title, borrowed: `rank` checks every candidate on
    /// each call and copies only the few without a vector.
    pub fn titled(candidates: &[Candidate]) -> impl Iterator<Item = (&str, &str)> + '_ {
        candidates
            .iter()
            .filter_map(|c| Some((c.id.as_str(), c.title.as_deref()?)))
    }

    /// Encodes the titles of candidates that have no vector yet (without an encoder they stay unscored).
    pub fn ensure(&mut self, encoder: Option<&Encoder>, candidates: &[Candidate]) -> Result<()> {
        let Some(enc) = encoder else { return Ok(()) };
        let missing = self.missing(Self::titled(candidates));
        self.encode_into(enc, missing)
    }

    /// Encodes `(key, text)` pairs in batches and caches them.
    pub fn encode_into(&mut self, encoder: &Encoder, texts: Vec<(String, String)>) -> Result<()> {
        if self.encoded.len() + texts.len() > MAX_ENCODED {
            self.encoded.clear();
        }
        for chunk in texts.chunks(BATCH) {
            let refs: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            let vecs = encoder.embed(&refs)?;
            for ((key, _), v) in chunk.iter().zip(vecs) {
                self.encoded.insert(key.clone(), v);
            }
        }
        Ok(())
    }

    /// Of `pairs`, those without a vector yet, each key once, in order (only those are copied).
    pub fn missing<K, T>(&self, pairs: impl IntoIterator<Item = (K, T)>) -> Vec<(String, String)>
    where
        K: AsRef<str> + Into<String>,
        T: Into<String>,
    {
        let mut seen = HashSet::new();
        pairs
            .into_iter()
            .filter(|(key, _)| !self.contains(key.as_ref()))
            .filter_map(|(key, text)| {
                let key: String = key.into();
                seen.insert(key.clone()).then(|| (key, text.into()))
            })
            .collect()
    }

    /// Caches vectors made by another encoder of the same model (the GPU backend): `flat` holds one
    /// `dims`-long vector per key, in order.
    pub fn put(&mut self, keys: Vec<String>, flat: &[f32], dims: usize) -> Result<()> {
        if dims == 0 || flat.len() != keys.len() * dims {
            return Err(Error::InvalidInput(format!(
                "putVectors: {} values for {} keys of {dims} dims",
                flat.len(),
                keys.len()
            )));
        }
        if let Some(bad) = flat.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "putVectors: value {bad} is not finite"
            )));
        }
        if self.encoded.len() + keys.len() > MAX_ENCODED {
            self.encoded.clear();
        }
        for (key, v) in keys.into_iter().zip(flat.chunks(dims)) {
            self.encoded.insert(key, v.to_vec());
        }
        Ok(())
    }

    /// The vector for `text`, encoding it if needed (copy variants, search queries).
    pub fn text_vector(&mut self, encoder: &Encoder, key: String, text: &str) -> Result<&[f32]> {
        if !self.contains(&key) {
            self.encode_into(encoder, vec![(key.clone(), text.to_owned())])?;
        }
        self.get(&key)
            .ok_or_else(|| Error::InvalidInput(format!("no vector for {key}")))
    }
}
