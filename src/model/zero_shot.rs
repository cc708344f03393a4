//! The intent without a trained model: a recency- and event-weighted mean of the session's text
//! vectors, which serves until a session model is loaded (and attributes scores in explanations).

use super::session::SessionStep;
use crate::history::event::EventKind;

/// Weight of each event kind in [`zero_shot_intent`]: stronger signals of intent count more; a purchase
/// counts less than an add-to-cart because the shopper is done with that product.
pub fn zero_shot_kind_weight(kind: EventKind) -> f32 {
    match kind {
        EventKind::View => 1.0,
        EventKind::Click => 1.5,
        EventKind::AddToCart => 2.5,
        EventKind::Purchase => 2.0,
        EventKind::Search => 1.5,
    }
}

/// Per-step decay of [`zero_shot_intent`]: the newest step weighs 1, the one before 0.7, …
pub const ZERO_SHOT_DECAY: f32 = 0.7;

/// The intent without a trained model: the recency- and event-weighted mean of the step vectors,
/// L2-normalised (score it by cosine against unit-length text vectors). Steps whose vector length
/// differs from the newest step's are skipped. No steps (or all-zero vectors) give an empty vector:
/// there is no intent, and the caller falls back to a non-personal ranking.
pub fn zero_shot_intent(steps: &[SessionStep]) -> Vec<f32> {
    let Some(newest) = steps.last() else {
        return Vec::new();
    };
    let dims = newest.vector.len();
    let mut sum = vec![0f32; dims];
    for (s, k) in steps.iter().zip(zero_shot_weights(steps)) {
        if s.vector.len() == dims {
            sum.iter_mut().zip(s.vector).for_each(|(a, v)| *a += k * v);
        }
    }
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return Vec::new();
    }
    sum.iter_mut().for_each(|x| *x /= norm);
    sum
}

/// Each step's weight in [`zero_shot_intent`] (oldest first): `kind weight × ZERO_SHOT_DECAY^age`. The
/// ranking's explanations attribute scores to history events with the same weights.
pub fn zero_shot_weights(steps: &[SessionStep]) -> Vec<f32> {
    let n = steps.len();
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| zero_shot_kind_weight(s.kind) * ZERO_SHOT_DECAY.powi((n - 1 - i) as i32))
        .collect()
}
