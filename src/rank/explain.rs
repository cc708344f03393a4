//! Why an item was ranked: the history events (and the title words shared with them), the query or the
//! product that drove its score, with weights that sum to 1. Computed for the returned items only, so
//! explanations cost almost nothing.

use serde::{Deserialize, Serialize};

use super::dot;
use crate::error::Result;
use crate::history::Event;
use crate::model::zero_shot::Contribution;

/// What a reason points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum ReasonKind {
    /// An event in the shopper's history (a product viewed, clicked, carted, bought, or a search).
    Event,
    /// An event whose title shares words with the item's ("same words as … you viewed"); `words` names
    /// them. Used where the word overlap drove that event's part of the score more than the text cosine.
    Words,
    /// The search query being re-ranked.
    Query,
    /// The product the placement is similar to.
    Product,
    /// The page's own order of search results.
    Position,
    /// How recently the shopper viewed it.
    Recency,
}

/// One driver of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), ts(optional_fields))]
pub struct Reason {
    /// What kind of driver.
    pub kind: ReasonKind,
    /// The event's type (`view`, `search`, …) for event reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<crate::history::EventKind>"))]
    pub event_type: Option<String>,
    /// The product involved, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// The query, for query reasons and search events (shown on this device only, never reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// For `words` reasons: the shared title words, rarest in the catalog first (at most three).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<String>>,
    /// Share of the score, in [0, 1]; an item's reasons sum to 1.
    pub weight: f32,
}

impl Reason {
    /// A reason with no event, product or query attached.
    pub fn plain(kind: ReasonKind, weight: f32) -> Self {
        Self {
            kind,
            event_type: None,
            product_id: None,
            query: None,
            words: None,
            weight,
        }
    }

    /// A reason pointing at one history event.
    pub fn event(e: &Event, weight: f32) -> Self {
        Self {
            kind: ReasonKind::Event,
            event_type: Some(e.kind.as_str().to_owned()),
            product_id: e.product_id.clone(),
            query: e.query.clone(),
            words: None,
            weight,
        }
    }
}

/// At most this many reasons per item: enough to explain, few enough to read.
pub const MAX_REASONS: usize = 3;

/// Attribution of an item to history events: event i contributes `wᵢ · max(0, cos(vᵢ, item))`
/// (wᵢ the event's zero-shot weight), the top [`MAX_REASONS`] renormalised to sum to 1.
pub fn history_reasons(steps: &[(&Event, &[f32])], weights: &[f32], item: &[f32]) -> Result<Vec<Reason>> {
    let mut contrib: Vec<(usize, f32)> = Vec::new();
    for (i, ((_, v), w)) in steps.iter().zip(weights).enumerate() {
        let c = w * dot(v, item)?.max(0.0);
        if c > 0.0 {
            contrib.push((i, c));
        }
    }
    // Newest first among equals: the most recent event is the more natural explanation.
    contrib.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    contrib.truncate(MAX_REASONS);
    Ok(normalise(
        contrib
            .into_iter()
            .map(|(i, c)| Reason::event(steps[i].0, c))
            .collect(),
    ))
}

/// Attribution of a zero-shot score to history events from each step's text and word parts (`parts`
/// of the steps `events`, oldest first): a step whose word part is the larger becomes a `words` reason
/// naming `shared(step)` (the words its title shares with the item's), the others `event` reasons; the
/// top [`MAX_REASONS`] renormalised to sum to 1.
pub fn zero_shot_reasons(
    events: &[&Event],
    parts: &[Contribution],
    shared: impl Fn(usize) -> Vec<String>,
) -> Vec<Reason> {
    let mut parts: Vec<&Contribution> = parts.iter().filter(|c| c.content + c.words > 0.0).collect();
    // Newest first among equals, as in `history_reasons`.
    parts.sort_by(|a, b| {
        (b.content + b.words)
            .total_cmp(&(a.content + a.words))
            .then(b.step.cmp(&a.step))
    });
    parts.truncate(MAX_REASONS);
    normalise(
        parts
            .into_iter()
            .map(|c| {
                let mut r = Reason::event(events[c.step], c.content + c.words);
                if c.words > c.content {
                    let mut words = shared(c.step);
                    words.truncate(3);
                    if !words.is_empty() {
                        r.kind = ReasonKind::Words;
                        r.words = Some(words);
                    }
                }
                r
            })
            .collect(),
    )
}

/// Scales weights to sum to 1 (drops all-zero lists to empty).
pub fn normalise(mut reasons: Vec<Reason>) -> Vec<Reason> {
    let total: f32 = reasons.iter().map(|r| r.weight.max(0.0)).sum();
    if total <= 0.0 {
        return Vec::new();
    }
    for r in &mut reasons {
        r.weight = r.weight.max(0.0) / total;
    }
    reasons.retain(|r| r.weight > 0.0);
    reasons
}
