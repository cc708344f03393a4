//! Ranking candidates for a placement: the request types the page sends, rules (filters, boosts, pins,
//! diversity) and per-result explanations. Scoring itself is plain vector arithmetic done by the caller
//! ([`crate::sdk`]); this module turns relevance into an ordered, explained, rule-abiding list.

pub mod explain;
mod rules;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::history::event::{check_text, MAX_TEXT_LEN, MAX_TITLE_LEN};

pub use explain::{Reason, ReasonKind};
pub use rules::{apply_rules, apply_rules_scaled, Boost, Diversity, Filters, Pin, Rules};

/// A product the page offers for ranking. Unknown fields are ignored, so pages can pass their own objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[cfg_attr(not(target_arch = "wasm32"), ts(optional_fields))]
pub struct Candidate {
    /// The product id, as in events and in the catalog file.
    pub id: String,
    /// Title: encoded on the device when the catalog file has no vector for this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Category, for filters and boosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Price, for filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
}

impl Candidate {
    /// Checks what the page passed: an id, texts within the events' limits, a finite price ≥ 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidInput(format!("candidate {:?}: {msg}", self.id)));
        for (name, text, max) in [
            ("id", Some(self.id.as_str()), MAX_TEXT_LEN),
            ("title", self.title.as_deref(), MAX_TITLE_LEN),
            ("category", self.category.as_deref(), MAX_TEXT_LEN),
        ] {
            if let Err(msg) = check_text(name, text, max, name == "title") {
                return bad(msg);
            }
        }
        if let Some(p) = self.price {
            if !p.is_finite() || p < 0.0 {
                return bad(format!("`price` must be a finite number ≥ 0, got {p}"));
            }
        }
        Ok(())
    }
}

/// Where the results will be shown; each placement scores differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(tag = "placement", rename_all = "camelCase", deny_unknown_fields)]
pub enum Placement {
    /// Personal picks from the session intent.
    ForYou,
    /// Items close to one product (a product page's "similar items").
    #[serde(rename_all = "camelCase")]
    SimilarTo {
        /// The product to be similar to.
        product_id: String,
    },
    /// The page's own search results, re-ordered by the query and the session intent.
    RerankSearch {
        /// The query text.
        query: String,
    },
    /// What the shopper viewed lately, newest first.
    RecentlyViewed,
}

impl Placement {
    /// The placement's wire name, for diagnostics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ForYou => "forYou",
            Self::SimilarTo { .. } => "similarTo",
            Self::RerankSearch { .. } => "rerankSearch",
            Self::RecentlyViewed => "recentlyViewed",
        }
    }
}

/// One ranked result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Ranked {
    /// Product id.
    pub id: String,
    /// Final score (relevance plus boosts; MMR-adjusted when diversity is on). Pinned items keep theirs.
    pub score: f32,
    /// Whether a pin put it at its position.
    pub pinned: bool,
    /// Boost added by the rules.
    pub boost: f32,
    /// Why: the history events, query or product that drove the score, with weights summing to 1.
    pub reasons: Vec<Reason>,
}

/// Dot product of two vectors of one length; two lengths mean two models met ([`crate::Error::SizeMismatch`]).
pub fn dot(a: &[f32], b: &[f32]) -> Result<f32> {
    crate::backend::cpu::ops::dot(a, b)
}
