//! Business rules over scored candidates: filters, boosts, exclusion of purchased items, MMR diversity and
//! pins, applied in that order. Deterministic: equal scores keep the page's candidate order.

use std::collections::HashSet;
use std::hash::BuildHasher;

use rustc_hash::FxHashSet;

use serde::{Deserialize, Serialize};

use super::{dot, Candidate};
use crate::error::{Error, Result};

/// Rules for one `rank` call. Every field is optional on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[cfg_attr(not(target_arch = "wasm32"), ts(optional_fields))]
pub struct Rules {
    /// How many results to return (1..=1000, default 10).
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub limit: usize,
    /// Candidates to drop.
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub filters: Filters,
    /// Additive score boosts.
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub boosts: Vec<Boost>,
    /// Items forced to a position.
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub pins: Vec<Pin>,
    /// Drop products this shopper bought (default true).
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub exclude_purchased: bool,
    /// forYou only: also show products already viewed, clicked or carted (default false: new things).
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub include_seen: bool,
    /// Maximal marginal relevance: trade relevance for variety.
    pub diversity: Option<Diversity>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            limit: 10,
            filters: Filters::default(),
            boosts: Vec::new(),
            pins: Vec::new(),
            exclude_purchased: true,
            include_seen: false,
            diversity: None,
        }
    }
}

/// Candidates to keep or drop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[cfg_attr(not(target_arch = "wasm32"), ts(optional_fields))]
pub struct Filters {
    /// Keep only these categories (when non-empty).
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub categories: Vec<String>,
    /// Drop these categories.
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub exclude_categories: Vec<String>,
    /// Drop these ids.
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub exclude_ids: Vec<String>,
    /// Keep only items priced at least this (items without a price are kept).
    pub min_price: Option<f64>,
    /// Keep only items priced at most this (items without a price are kept).
    pub max_price: Option<f64>,
}

/// Adds `weight` to the score of matching items (a category, or a list of ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), ts(optional_fields))]
pub struct Boost {
    /// Items in this category.
    #[serde(default)]
    pub category: Option<String>,
    /// Items with these ids.
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub ids: Vec<String>,
    /// Added to the score, in cosine units (-1..=1).
    pub weight: f32,
}

/// Puts an item at a 0-based position, whatever its score (it must be among the candidates). An id
/// pinned twice is placed once, at the lower position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pin {
    /// Product id.
    pub id: String,
    /// 0-based position in the results.
    pub position: usize,
}

/// MMR: each next pick maximises `λ·score − (1−λ)·max cosine to the picks so far`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Diversity {
    /// 1 = relevance only, 0 = variety only.
    pub lambda: f32,
}

/// MMR looks at the top `MMR_POOL_PER_RESULT × limit` items (at most `MMR_POOL_MAX`): variety among the
/// relevant, at a cost that grows with the results asked for, not with the candidates.
const MMR_POOL_PER_RESULT: usize = 4;
const MMR_POOL_MAX: usize = 200;

impl Rules {
    /// Rejects rules that cannot be meant.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(format!("rules: {m}")));
        if self.limit == 0 || self.limit > 1000 {
            return bad(format!("limit {} must be in 1..=1000", self.limit));
        }
        for b in &self.boosts {
            if !b.weight.is_finite() || b.weight.abs() > 1.0 {
                return bad(format!("boost weight {} must be in -1..=1", b.weight));
            }
            if b.category.is_none() && b.ids.is_empty() {
                return bad("a boost needs a `category` or `ids`".into());
            }
        }
        if let Some(d) = self.diversity {
            if !(0.0..=1.0).contains(&d.lambda) {
                return bad(format!("diversity lambda {} must be in 0..=1", d.lambda));
            }
        }
        for p in [self.filters.min_price, self.filters.max_price]
            .into_iter()
            .flatten()
        {
            if !p.is_finite() {
                return bad("price filters must be finite numbers".into());
            }
        }
        Ok(())
    }

    fn keeps<S: BuildHasher>(&self, c: &Candidate, excluded: &HashSet<&str, S>) -> bool {
        let f = &self.filters;
        let cat = c.category.as_deref();
        if !f.categories.is_empty() && !cat.is_some_and(|k| f.categories.iter().any(|x| x == k)) {
            return false;
        }
        if cat.is_some_and(|k| f.exclude_categories.iter().any(|x| x == k)) {
            return false;
        }
        if f.exclude_ids.contains(&c.id) {
            return false;
        }
        if let Some(p) = c.price {
            if f.min_price.is_some_and(|m| p < m) || f.max_price.is_some_and(|m| p > m) {
                return false;
            }
        }
        !excluded.contains(c.id.as_str())
    }

    fn boost(&self, c: &Candidate) -> f32 {
        self.boosts
            .iter()
            .filter(|b| b.ids.contains(&c.id) || b.category.is_some() && b.category == c.category)
            .map(|b| b.weight)
            .sum()
    }
}

/// One candidate's place in the output: its index in the request, its score and boost, whether pinned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// Index into the candidates.
    pub index: usize,
    /// Score after boosts (and MMR when on).
    pub score: f32,
    /// Boost included in `score`.
    pub boost: f32,
    /// Put there by a pin.
    pub pinned: bool,
}

/// Orders candidates by `relevance` (`None` or NaN = cannot be scored, dropped) under `rules`.
/// `vectors[i]` is candidate i's text vector, used by MMR; `excluded` holds the ids the history rules out
/// (purchased, or seen for forYou), already resolved by the caller against `exclude_purchased` and
/// `include_seen`. Vectors of two lengths (MMR compares them) are an error.
pub fn apply_rules<S: BuildHasher>(
    candidates: &[Candidate],
    relevance: &[Option<f32>],
    vectors: &[Option<&[f32]>],
    rules: &Rules,
    excluded: &HashSet<&str, S>,
) -> Result<Vec<Placed>> {
    apply_rules_scaled(candidates, relevance, vectors, rules, excluded, 1.0)
}

/// [`apply_rules`] with MMR's similarity penalty multiplied by `similarity`: the encoder's cosine weight
/// (`model::Scores::diversity_similarity`), so that λ trades relevance against redundancy on one scale
/// whichever encoder made the vectors (e5's cosines bunch; MiniLM's weight is 1).
pub fn apply_rules_scaled<S: BuildHasher>(
    candidates: &[Candidate],
    relevance: &[Option<f32>],
    vectors: &[Option<&[f32]>],
    rules: &Rules,
    excluded: &HashSet<&str, S>,
    similarity: f32,
) -> Result<Vec<Placed>> {
    let pinned: FxHashSet<&str> = rules.pins.iter().map(|p| p.id.as_str()).collect();
    let mut pool: Vec<Placed> = candidates
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            // NaN would sort above every number (total_cmp): it is no score at all.
            relevance[*i].is_some_and(|r| !r.is_nan())
                && rules.keeps(c, excluded)
                && !pinned.contains(c.id.as_str())
        })
        .map(|(i, c)| {
            let boost = rules.boost(c);
            Placed {
                index: i,
                score: relevance[i].unwrap_or(0.0) + boost,
                boost,
                pinned: false,
            }
        })
        .collect();
    // Highest first, ties in the page's order (so the same inputs give the same output); only the head
    // that can be placed is sorted: a selection first, as 1,000 candidates usually fill 20 slots.
    let mmr_lambda = rules.diversity.map(|d| d.lambda).filter(|&l| l < 1.0);
    let head = match mmr_lambda {
        Some(_) => mmr_pool(rules.limit),
        None => rules.limit,
    };
    let order = |a: &Placed, b: &Placed| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index));
    if pool.len() > head {
        if head > 0 {
            pool.select_nth_unstable_by(head - 1, order);
        }
        pool.truncate(head);
    }
    pool.sort_unstable_by(order);
    let mut picked = match mmr_lambda {
        Some(lambda) => mmr(pool, vectors, lambda, similarity, rules.limit)?,
        None => pool,
    };
    // Pins last: they name a position in the final list. A pinned id absent from the candidates is skipped.
    let mut pins: Vec<&Pin> = rules.pins.iter().collect();
    pins.sort_by_key(|p| p.position);
    let mut placed = FxHashSet::default();
    for pin in pins {
        if !placed.insert(pin.id.as_str()) {
            continue;
        }
        if let Some(index) = candidates.iter().position(|c| c.id == pin.id) {
            let score = relevance[index].filter(|r| !r.is_nan()).unwrap_or(0.0);
            let at = pin.position.min(picked.len());
            picked.insert(
                at,
                Placed {
                    index,
                    score,
                    boost: 0.0,
                    pinned: true,
                },
            );
        }
    }
    picked.truncate(rules.limit);
    Ok(picked)
}

/// How many of the best MMR chooses among: at least `limit` (a limit over MMR_POOL_MAX is allowed;
/// `clamp` would panic on min > max).
fn mmr_pool(limit: usize) -> usize {
    limit
        .saturating_mul(MMR_POOL_PER_RESULT)
        .min(MMR_POOL_MAX)
        .max(limit)
}

/// MMR over `pool`, the best [`mmr_pool`] candidates already sorted by score.
fn mmr(
    pool: Vec<Placed>,
    vectors: &[Option<&[f32]>],
    lambda: f32,
    similarity: f32,
    limit: usize,
) -> Result<Vec<Placed>> {
    let mut picked: Vec<Placed> = Vec::with_capacity(limit);
    // max_sim[j]: the highest cosine between pool[j] and anything picked so far.
    let mut max_sim = vec![f32::NEG_INFINITY; pool.len()];
    let mut taken = vec![false; pool.len()];
    while picked.len() < limit {
        let mut best: Option<(usize, f32)> = None;
        for (j, p) in pool.iter().enumerate() {
            if taken[j] {
                continue;
            }
            let penalty = if picked.is_empty() {
                0.0
            } else {
                similarity * max_sim[j].max(0.0)
            };
            let s = lambda * p.score - (1.0 - lambda) * penalty;
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((j, s));
            }
        }
        let Some((j, s)) = best else { break };
        taken[j] = true;
        picked.push(Placed { score: s, ..pool[j] });
        if let Some(vj) = vectors[pool[j].index] {
            for (k, q) in pool.iter().enumerate() {
                if let (false, Some(vk)) = (taken[k], vectors[q.index]) {
                    max_sim[k] = max_sim[k].max(dot(vj, vk)?);
                }
            }
        }
    }
    Ok(picked)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
