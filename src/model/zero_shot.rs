//! The ranking without a trained model (the SDK's default forYou, and `vitrine eval --method zero-shot`):
//! the text cosine to a recency- and event-weighted mean of the session's vectors, plus the title word
//! overlap with the session's steps ([`super::lexical`]), plus the closeness of prices where both sides
//! have one. Nothing is learned from any catalog, so it holds on catalogs no model saw.
//!
//! Every weight lives in [`ZeroShotMix`] (defaults chosen on two unrelated logs, see BENCHMARKS.md), so a
//! model file can carry its own mix later. The SDK and the CLI score through the same two calls,
//! [`ZeroShotMix::profile`] then [`ZeroShotMix::score`].

use serde::{Deserialize, Serialize};

use super::lexical::{Lexicon, WordVector};
use super::session::SessionStep;
use crate::error::Result;
use crate::history::event::EventKind;

/// How much each event kind says about intent: stronger signals count more; a purchase counts less than
/// an add-to-cart because the shopper is done with that product. Not measured: the two logs used to
/// choose the mix hold purchases only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindWeights {
    pub view: f32,
    pub click: f32,
    pub add_to_cart: f32,
    pub purchase: f32,
    pub search: f32,
}

impl Default for KindWeights {
    fn default() -> Self {
        Self {
            view: 1.0,
            click: 1.5,
            add_to_cart: 2.5,
            purchase: 2.0,
            search: 1.5,
        }
    }
}

impl KindWeights {
    pub fn of(&self, kind: EventKind) -> f32 {
        match kind {
            EventKind::View => self.view,
            EventKind::Click => self.click,
            EventKind::AddToCart => self.add_to_cart,
            EventKind::Purchase => self.purchase,
            EventKind::Search => self.search,
        }
    }
}

/// The zero-shot score's weights: `content · cos(intent, item) + lexical · words + price term`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZeroShotMix {
    /// Each older visit's share of the intent relative to the next newer one.
    pub decay: f32,
    /// Event kind weights, applied to both the intent and the word overlap.
    pub kinds: KindWeights,
    /// Weight of the text cosine to the intent.
    pub content: f32,
    /// Weight of the title word overlap: `Σ kind · lexical_decay^age · tfidf_cos(step title, title)`.
    pub lexical: f32,
    /// Each older visit's share of the word overlap relative to the next newer one.
    pub lexical_decay: f32,
    /// Steps at most this many seconds after the previous one belong to its visit and share its age
    /// (items bought in one order have no meaningful order); `None`: every step is its own visit.
    pub visit_gap_secs: Option<f32>,
    /// Weight of the price term `-|ln price - mean ln price of the session|` (0: prices ignored).
    pub price: f32,
    /// Newest steps read.
    pub max_steps: usize,
}

impl Default for ZeroShotMix {
    fn default() -> Self {
        Self {
            decay: 0.7,
            kinds: KindWeights::default(),
            content: 1.0,
            lexical: 1.5,
            lexical_decay: 0.8,
            visit_gap_secs: None,
            price: 0.0,
            max_steps: 50,
        }
    }
}

/// One step as the zero-shot score reads it: the step, its text (the product's title, or the query of a
/// search; empty when unknown) and its product's price when known.
#[derive(Debug, Clone, Copy)]
pub struct ZeroShotStep<'a> {
    pub step: SessionStep<'a>,
    pub text: &'a str,
    pub price: Option<f32>,
}

/// What a session contributes to every candidate's score, computed once per ranking.
#[derive(Debug, Clone, Default)]
pub struct ZeroShotProfile {
    /// Unit-length weighted mean of the steps' vectors; empty without a usable vector.
    pub intent: Vec<f32>,
    /// The word profile as a dense array over the lexicon's word ids (a candidate reads its few words).
    words: Vec<f32>,
    /// Weighted mean of the steps' log prices.
    log_price: Option<f32>,
    /// Per step read (oldest first): the intent weight over the intent's norm, and the word weight.
    shares: Vec<(f32, f32)>,
    /// Per step read: its title's word vector.
    step_words: Vec<WordVector>,
}

/// One step's part in a candidate's score ([`ZeroShotMix::contributions`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    /// Index of the step among those passed to [`ZeroShotMix::profile`].
    pub step: usize,
    /// `content ·` its share of the text cosine (≥ 0: steps pointing away are left out).
    pub content: f32,
    /// `lexical ·` its share of the word overlap.
    pub words: f32,
}

impl ZeroShotMix {
    /// Each step's age in visits (0 for the newest visit), oldest first.
    fn ages(&self, steps: &[ZeroShotStep]) -> Vec<i32> {
        let mut ages = vec![0; steps.len()];
        let mut age = 0;
        for i in (0..steps.len()).rev() {
            ages[i] = age;
            let joined = match (self.visit_gap_secs, steps[i].step.gap_secs) {
                (Some(max), Some(gap)) => gap <= max,
                _ => false,
            };
            if !joined {
                age += 1;
            }
        }
        ages
    }

    /// Each step's weight in the intent (oldest first): `kind weight × decay^age`, 0 beyond
    /// [`Self::max_steps`].
    pub fn weights(&self, steps: &[ZeroShotStep]) -> Vec<f32> {
        self.decayed(steps, self.decay)
    }

    fn decayed(&self, steps: &[ZeroShotStep], decay: f32) -> Vec<f32> {
        let first = steps.len().saturating_sub(self.max_steps);
        self.ages(steps)
            .into_iter()
            .zip(steps)
            .enumerate()
            .map(|(i, (age, s))| {
                if i < first {
                    0.0
                } else {
                    self.kinds.of(s.step.kind) * decay.powi(age)
                }
            })
            .collect()
    }

    /// The intent without a trained model: the weighted mean of the step vectors, L2-normalised. Steps
    /// whose vector length differs from the newest step's are skipped; no usable vector gives an empty
    /// vector (no intent: the caller falls back to a non-personal order).
    pub fn intent(&self, steps: &[ZeroShotStep]) -> Vec<f32> {
        let (intent, _) = self.intent_and_norm(steps, &self.weights(steps));
        intent
    }

    fn intent_and_norm(&self, steps: &[ZeroShotStep], weights: &[f32]) -> (Vec<f32>, f32) {
        let Some(newest) = steps.last() else {
            return (Vec::new(), 0.0);
        };
        let dims = newest.step.vector.len();
        let mut sum = vec![0f32; dims];
        for (s, &k) in steps.iter().zip(weights) {
            if s.step.vector.len() == dims && k != 0.0 {
                sum.iter_mut().zip(s.step.vector).for_each(|(a, v)| *a += k * v);
            }
        }
        let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return (Vec::new(), 0.0);
        }
        sum.iter_mut().for_each(|x| *x /= norm);
        (sum, norm)
    }

    /// What the session (`steps`, oldest first) brings to every candidate; `lexicon` counts the words of
    /// the titles being ranked.
    pub fn profile(&self, steps: &[ZeroShotStep], lexicon: &Lexicon) -> ZeroShotProfile {
        let weights = self.weights(steps);
        let (intent, norm) = self.intent_and_norm(steps, &weights);
        let dims = intent.len();
        let mut p = ZeroShotProfile {
            intent,
            ..Default::default()
        };
        let lexical = if self.lexical != 0.0 {
            self.decayed(steps, self.lexical_decay)
        } else {
            vec![0.0; steps.len()]
        };
        if self.lexical != 0.0 {
            p.words = vec![0.0; lexicon.vocabulary()];
        }
        for ((s, &w), &lw) in steps.iter().zip(&weights).zip(&lexical) {
            let share = if norm > 0.0 && s.step.vector.len() == dims {
                w / norm
            } else {
                0.0
            };
            let v = if lw != 0.0 && !s.text.is_empty() {
                lexicon.vector(s.text)
            } else {
                WordVector::default()
            };
            for &(id, x) in v.entries() {
                p.words[id as usize] += lw * x;
            }
            p.shares.push((share, lw));
            p.step_words.push(v);
        }
        if self.price != 0.0 {
            let (mut sum, mut total) = (0.0, 0.0);
            for (s, &w) in steps.iter().zip(&weights) {
                if let Some(price) = s.price.filter(|p| *p > 0.0 && p.is_finite()) {
                    sum += w * price.ln();
                    total += w;
                }
            }
            p.log_price = (total > 0.0).then(|| sum / total);
        }
        p
    }

    /// A candidate's score from its text `vector`, its title's word vector over the same lexicon and its
    /// price. Without an intent the text term is 0; an unknown price adds nothing. A `vector` of another
    /// length than the session's is an error ([`crate::Error::SizeMismatch`]).
    pub fn score(
        &self,
        p: &ZeroShotProfile,
        vector: &[f32],
        words: &WordVector,
        price: Option<f32>,
    ) -> Result<f32> {
        let mut s = 0.0;
        if !p.intent.is_empty() && self.content != 0.0 {
            s += self.content * crate::backend::cpu::ops::dot(&p.intent, vector)?;
        }
        if !p.words.is_empty() {
            let overlap: f32 = words
                .entries()
                .iter()
                .map(|&(id, x)| p.words[id as usize] * x)
                .sum();
            s += self.lexical * overlap;
        }
        if let (Some(m), Some(price)) = (p.log_price, price.filter(|p| *p > 0.0 && p.is_finite())) {
            s -= self.price * (price.ln() - m).abs();
        }
        Ok(s)
    }

    /// Each step's part in a candidate's text and word terms (for explanations; the price term is the
    /// session's as a whole), leaving out steps that add nothing.
    /// `steps` are those the profile was made from.
    pub fn contributions(
        &self,
        p: &ZeroShotProfile,
        steps: &[ZeroShotStep],
        vector: &[f32],
        words: &WordVector,
    ) -> Result<Vec<Contribution>> {
        let dot = crate::backend::cpu::ops::dot;
        let mut out = Vec::new();
        let parts = p.shares.iter().zip(&p.step_words).zip(steps).enumerate();
        for (step, ((&(share, lw), sw), s)) in parts {
            // Steps of another length are left out of the intent (see `intent_and_norm`), so of its parts.
            let content = if share > 0.0 && vector.len() == s.step.vector.len() {
                self.content * share * dot(s.step.vector, vector)?
            } else {
                0.0
            };
            let words = self.lexical * lw * sw.dot(words);
            if content > 0.0 || words > 0.0 {
                out.push(Contribution {
                    step,
                    content: content.max(0.0),
                    words: words.max(0.0),
                });
            }
        }
        Ok(out)
    }
}

/// A whole catalog scored exactly as the SDK scores its candidates (`vitrine eval --method zero-shot`
/// ranks with it): text vectors, the titles' word vectors over a lexicon of the catalog's own titles
/// (the SDK counts the candidates'), and prices.
pub struct ZeroShotCatalog<'a> {
    vectors: &'a [f32],
    dims: usize,
    lexicon: Lexicon,
    words: Vec<WordVector>,
    prices: &'a [Option<f32>],
}

impl<'a> ZeroShotCatalog<'a> {
    /// `vectors`: `titles.len() × dims`, row-major; `prices`: one per title.
    pub fn new(vectors: &'a [f32], titles: &[String], prices: &'a [Option<f32>]) -> Self {
        let lexicon = Lexicon::new(titles.iter().map(String::as_str));
        let words = titles.iter().map(|t| lexicon.vector(t)).collect();
        Self {
            vectors,
            dims: vectors.len() / titles.len().max(1),
            lexicon,
            words,
            prices,
        }
    }

    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// Every item's score after `steps` under `mix`, in catalog order.
    pub fn scores(&self, mix: &ZeroShotMix, steps: &[ZeroShotStep]) -> Result<Vec<f32>> {
        let profile = mix.profile(steps, &self.lexicon);
        self.vectors
            .chunks(self.dims)
            .zip(&self.words)
            .zip(self.prices)
            .map(|((v, w), &p)| mix.score(&profile, v, w, p))
            .collect()
    }
}

/// [`ZeroShotMix::intent`] of the default mix over steps without texts or prices (segments, the SDK's
/// `intent()`, the `content` baseline).
pub fn zero_shot_intent(steps: &[SessionStep]) -> Vec<f32> {
    let steps: Vec<ZeroShotStep> = steps
        .iter()
        .map(|&step| ZeroShotStep {
            step,
            text: "",
            price: None,
        })
        .collect();
    ZeroShotMix::default().intent(&steps)
}

#[cfg(test)]
#[path = "zero_shot_tests.rs"]
mod tests;
