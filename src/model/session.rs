//! The session intent: what the shopper wants next, as a vector in the encoder's space. This file holds
//! the zero-shot fallback (a recency- and event-weighted mean); the trained model joins it.

use crate::history::EventKind;

/// One step of the session as the intent models read it: the item's (or query's) text vector.
#[derive(Debug, Clone, Copy)]
pub struct SessionStep<'a> {
    /// Unit-length text vector of the product (or of the query, for a search).
    pub vector: &'a [f32],
    /// What the shopper did.
    pub kind: EventKind,
    /// Seconds since the previous step; `None` when unknown (the first step, or data without times).
    pub gap_secs: Option<f32>,
}

/// How much each kind of event says about intent: a cart add says more than a glance.
pub fn event_weight(kind: EventKind) -> f32 {
    match kind {
        EventKind::View => 1.0,
        EventKind::Click => 1.5,
        EventKind::AddToCart => 3.0,
        EventKind::Purchase => 2.0,
        EventKind::Search => 2.0,
    }
}

/// Each step back in time keeps this share of its weight: the last few events dominate.
pub const RECENCY_DECAY: f32 = 0.8;

/// The weight of each step (oldest first) in the zero-shot intent: `event_weight · decay^age`.
pub fn zero_shot_weights(steps: &[SessionStep]) -> Vec<f32> {
    let n = steps.len();
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| event_weight(s.kind) * RECENCY_DECAY.powi((n - 1 - i) as i32))
        .collect()
}

/// The fallback intent when no session model is loaded: the weighted mean of the step vectors,
/// L2-normalised. Empty history (or all-zero vectors) gives the zero vector: no preference.
pub fn zero_shot_intent(steps: &[SessionStep]) -> Vec<f32> {
    let dims = steps.first().map_or(0, |s| s.vector.len());
    let mut out = vec![0f32; dims];
    for (s, w) in steps.iter().zip(zero_shot_weights(steps)) {
        for (o, v) in out.iter_mut().zip(s.vector) {
            *o += w * v;
        }
    }
    let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        out.iter_mut().for_each(|v| *v /= norm);
    }
    out
}
