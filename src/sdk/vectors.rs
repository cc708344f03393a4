//! Text vectors by key: product ids from catalog files, plus titles and queries encoded on the device.
//! The encoded ones are bounded: when full, the least recently used go first, but never one that the
//! current call (a `rank`, an intent, a copy pick) has used, so a call cannot lose its own history.

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::{Encoder, Role};
use crate::rank::Candidate;

/// Encoded vectors kept between calls. One call may need more (up to 10,000 candidates plus its
/// history): those stay until a later call evicts them.
const MAX_ENCODED: usize = 20_000;
/// An eviction goes this far below the bound, so that its sort runs once per many calls.
const EVICT_TO: usize = MAX_ENCODED * 3 / 4;
/// Titles encoded per encoder call: bounds the padded batch (and the time one call blocks).
const BATCH: usize = 16;

struct Encoded {
    vector: Vec<f32>,
    /// The call that used it last (see [`VectorStore::begin_call`]).
    used: u64,
}

#[derive(Default)]
pub(super) struct VectorStore {
    /// Checksum of the encoder every vector here comes from, and their length.
    model: Option<(String, usize)>,
    catalog: FxHashMap<String, Vec<f32>>,
    encoded: FxHashMap<String, Encoded>,
    /// The current call's number: what it uses carries it and is not evicted until a later call.
    call: u64,
}

impl VectorStore {
    /// Queries share the map with product ids under a prefix no product id is expected to use.
    pub fn query_key(query: &str) -> String {
        format!("\u{0}q:{}", query.trim().to_lowercase())
    }

    /// A new encoder invalidates everything made by another one.
    pub fn set_model(&mut self, checksum: &str, dims: usize) {
        if self.space() != Some((checksum, dims)) {
            self.catalog.clear();
            self.encoded.clear();
            self.model = Some((checksum.to_owned(), dims));
        }
    }

    /// The encoder checksum and length of the vectors here, once an encoder or catalog set them.
    pub fn space(&self) -> Option<(&str, usize)> {
        self.model.as_ref().map(|(m, d)| (m.as_str(), *d))
    }

    /// Starts a call (a `rank`, an intent, a copy pick): from here until the next call starts, every
    /// vector it uses is kept through evictions.
    pub fn begin_call(&mut self) {
        self.call += 1;
    }

    pub fn add_catalog(&mut self, catalog: &Catalog) -> Result<usize> {
        let checksum = catalog.model_checksum();
        match self.space() {
            Some((m, dims)) if m != checksum || dims != catalog.dims() => {
                return Err(Error::Catalog(format!(
                    "made by encoder {} ({} dims), but the engine's vectors come from {} ({dims} dims)",
                    &checksum[..12],
                    catalog.dims(),
                    &m[..12.min(m.len())]
                )))
            }
            _ => self.model = Some((checksum, catalog.dims())),
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
            .map(Vec::as_slice)
            .or_else(|| self.encoded.get(key).map(|e| e.vector.as_slice()))
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

    /// Encodes the titles of candidates that have no vector yet (without an encoder they stay unscored),
    /// as passages: with the prefix the model's file asks for, as every other path that encodes titles.
    pub fn ensure(&mut self, encoder: Option<&Encoder>, candidates: &[Candidate]) -> Result<()> {
        let Some(enc) = encoder else { return Ok(()) };
        let titles = Self::titled(candidates).map(|(id, t)| (id, enc.with_role(Role::Passage, t)));
        let missing = self.missing(titles);
        self.encode_into(enc, missing)
    }

    /// Encodes `(key, text)` pairs in batches and caches them as used by the current call.
    pub fn encode_into(&mut self, encoder: &Encoder, texts: Vec<(String, String)>) -> Result<()> {
        self.make_room(texts.len());
        for chunk in texts.chunks(BATCH) {
            let refs: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            let vecs = encoder.embed(&refs)?;
            for ((key, _), v) in chunk.iter().zip(vecs) {
                self.insert(key.clone(), v);
            }
        }
        Ok(())
    }

    fn insert(&mut self, key: String, vector: Vec<f32>) {
        let used = self.call;
        self.encoded.insert(key, Encoded { vector, used });
    }

    /// Evicts the least recently used vectors to fit `incoming` new ones under [`MAX_ENCODED`]; what
    /// the current call has used stays, even when that leaves the store over the bound.
    fn make_room(&mut self, incoming: usize) {
        if self.encoded.len() + incoming <= MAX_ENCODED {
            return;
        }
        let excess = (self.encoded.len() + incoming).saturating_sub(EVICT_TO);
        let mut old: Vec<(u64, &String)> = self
            .encoded
            .iter()
            .filter(|(_, e)| e.used < self.call)
            .map(|(k, e)| (e.used, k))
            .collect();
        old.sort_unstable();
        let gone: Vec<String> = old.into_iter().take(excess).map(|(_, k)| k.clone()).collect();
        for key in gone {
            self.encoded.remove(&key);
        }
    }

    /// Of `pairs`, those without a vector yet, each key once, in order (see [`Self::lacking`]); the
    /// encoded vectors among the others are marked as used by the current call.
    pub fn missing<K, T>(&mut self, pairs: impl IntoIterator<Item = (K, T)>) -> Vec<(String, String)>
    where
        K: AsRef<str> + Into<String>,
        T: Into<String>,
    {
        let pairs: Vec<(K, T)> = pairs.into_iter().collect();
        for (key, _) in &pairs {
            if let Some(e) = self.encoded.get_mut(key.as_ref()) {
                e.used = self.call;
            }
        }
        self.lacking(pairs)
    }

    /// Of `pairs`, those without a vector yet, each key once, in order (only those are copied).
    pub fn lacking<K, T>(&self, pairs: impl IntoIterator<Item = (K, T)>) -> Vec<(String, String)>
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
        self.make_room(keys.len());
        for (key, v) in keys.into_iter().zip(flat.chunks(dims)) {
            self.insert(key, v.to_vec());
        }
        Ok(())
    }

    /// The vector for `text`, encoding it if needed (copy variants, search queries).
    pub fn text_vector(&mut self, encoder: &Encoder, key: String, text: &str) -> Result<&[f32]> {
        let missing = self.missing([(key.as_str(), text)]);
        self.encode_into(encoder, missing)?;
        self.get(&key)
            .ok_or_else(|| Error::InvalidInput(format!("no vector for {key}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn a_full_store_evicts_the_least_recently_used_but_not_the_current_calls() {
        let mut s = VectorStore::default();
        s.begin_call();
        s.put(keys("a", MAX_ENCODED / 2), &[0.5; MAX_ENCODED / 2], 1)
            .unwrap();
        s.begin_call();
        s.put(keys("b", MAX_ENCODED / 2), &[0.5; MAX_ENCODED / 2], 1)
            .unwrap();
        s.begin_call();
        // This call uses a0 (an older vector) and adds 10 more: the store is 10 over its bound.
        assert!(s.missing([("a0", "t")]).is_empty());
        s.put(keys("c", 10), &[0.5; 10], 1).unwrap();
        // Down to EVICT_TO: the 5,010 evicted are of the oldest call, and a0 is not among them.
        assert_eq!(s.encoded_len(), EVICT_TO);
        assert!(s.contains("a0") && s.contains("c9"));
        assert!(keys("b", MAX_ENCODED / 2).iter().all(|k| s.contains(k)));
        assert_eq!(
            (1..MAX_ENCODED / 2)
                .filter(|i| s.contains(&format!("a{i}")))
                .count(),
            4_989
        );
    }
}
