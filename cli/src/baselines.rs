//! The baselines `vitrine eval` compares against: popularity and item-kNN (learned from training
//! prefixes) and the title word overlap (nothing learned).

use std::collections::HashMap;

use vitrine::model::lexical::Lexicon;

use crate::data::Dataset;
use crate::eval::train_prefix;

/// Every item's title word vector, indexed by word: one session's overlap with all items costs the
/// postings of its own words only.
pub struct WordIndex {
    lexicon: Lexicon,
    /// Per word id: `(item, weight)` of the items whose title has it.
    postings: Vec<Vec<(u32, f32)>>,
}

impl WordIndex {
    pub fn new(texts: &[String]) -> Self {
        let lexicon = Lexicon::new(texts.iter().map(String::as_str));
        let mut postings = vec![Vec::new(); lexicon.vocabulary()];
        for (i, t) in texts.iter().enumerate() {
            for &(w, x) in lexicon.vector(t).entries() {
                postings[w as usize].push((i as u32, x));
            }
        }
        Self { lexicon, postings }
    }

    /// Adds `mix ·` the session's word overlap ([`Lexicon::session`]) to every item's score.
    pub fn add_overlap<'a>(
        &self,
        row: &mut [f32],
        texts: impl DoubleEndedIterator<Item = &'a str>,
        decay: f32,
        mix: f32,
    ) {
        for &(w, q) in self.lexicon.session(texts, decay).entries() {
            for &(item, x) in &self.postings[w as usize] {
                row[item as usize] += mix * q * x;
            }
        }
    }
}

/// Item counts over training prefixes only (no validation or test target leaks in).
pub fn popularity(ds: &Dataset) -> Vec<f32> {
    let mut pop = vec![0f32; ds.n_items()];
    for s in &ds.seqs {
        for &i in train_prefix(s) {
            pop[i as usize] += 1.0;
        }
    }
    pop
}

/// How many following items count as co-occurring with an item.
const KNN_WINDOW: usize = 3;

/// Item-to-item kNN from the last history item: how often `b` followed `a` within [`KNN_WINDOW`] steps
/// in users' training prefixes, cosine-normalised by both items' counts; ties (mostly items never seen
/// together) broken by popularity. Directed window 3 measured best of the variants tried (whole-prefix
/// co-occurrence, adjacent pairs, symmetric windows); see BENCHMARKS.md.
pub struct ItemKnn {
    neighbours: Vec<HashMap<u32, f32>>,
    pop: Vec<f32>,
}

impl ItemKnn {
    pub fn new(ds: &Dataset) -> Self {
        Self::from_prefixes(ds.n_items(), ds.seqs.iter().map(|s| train_prefix(s)))
    }

    /// Item-kNN over these training sequences of items `0..n`.
    pub fn from_prefixes<'a>(n: usize, prefixes: impl Iterator<Item = &'a [u32]> + Clone) -> Self {
        let mut pop = vec![0f32; n];
        for p in prefixes.clone() {
            for &i in p {
                pop[i as usize] += 1.0;
            }
        }
        let mut co: Vec<HashMap<u32, f32>> = vec![HashMap::new(); n];
        for p in prefixes {
            for (i, &a) in p.iter().enumerate() {
                for &b in &p[i + 1..(i + 1 + KNN_WINDOW).min(p.len())] {
                    if a != b {
                        *co[a as usize].entry(b).or_default() += 1.0;
                    }
                }
            }
        }
        for (a, row) in co.iter_mut().enumerate() {
            for (b, c) in row.iter_mut() {
                *c /= (pop[a] * pop[*b as usize]).sqrt().max(1.0);
            }
        }
        let max = pop.iter().copied().fold(1.0, f32::max);
        // Popularity as a tie-breaker well below any co-occurrence score's resolution.
        let pop = pop.iter().map(|p| p / max * 1e-6).collect();
        Self { neighbours: co, pop }
    }

    pub fn scores(&self, history: &[u32]) -> Vec<f32> {
        let mut s = self.pop.clone();
        if let Some(&last) = history.last() {
            for (&b, &c) in &self.neighbours[last as usize] {
                s[b as usize] += c;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_index_adds_each_items_dot_with_the_session_profile() {
        let texts: Vec<String> = [
            "OPI Nail Lacquer Red",
            "OPI Shatter Nail Polish",
            "Argan oil shampoo",
            "shampoo and conditioner set",
            "",
        ]
        .map(String::from)
        .to_vec();
        let index = WordIndex::new(&texts);
        let history = ["OPI Shatter Nail Polish", "Argan oil shampoo"];
        let mut row = vec![1.0; texts.len()];
        index.add_overlap(&mut row, history.iter().copied(), 0.5, 0.2);
        let profile = index.lexicon.session(history.iter().copied(), 0.5);
        for (t, got) in texts.iter().zip(&row) {
            let want = 1.0 + 0.2 * profile.dot(&index.lexicon.vector(t));
            assert!((got - want).abs() < 1e-6, "{t:?}: {got} vs {want}");
        }
        assert!(row[3] > 1.0 && row[0] > 1.0 && row[4] == 1.0);
    }
}
