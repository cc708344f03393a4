//! Relevance per placement, then rules and explanations. Relevance is a cosine (all vectors are unit
//! length), so boosts and MMR's λ act on one scale whatever the placement.

use std::collections::HashSet;
use std::sync::Mutex;

use super::vectors::VectorStore;
use super::Vitrine;
use crate::error::{Error, Result};
use crate::history::{Event, EventKind};
use crate::model::lexical::{Lexicon, WordVector};
use crate::model::session::{zero_shot_intent, zero_shot_weights};
use crate::model::{Role, SessionModel, SessionStep};
use crate::rank::explain::{history_reasons, normalise, Reason, ReasonKind};
use crate::rank::{apply_rules, dot, Candidate, Placement, Ranked, Rules};

/// In search re-ranking: shares of the query match, the session intent and the page's own order.
const SEARCH_QUERY: f32 = 0.6;
const SEARCH_INTENT: f32 = 0.25;
const SEARCH_POSITION: f32 = 0.15;
/// Recently viewed: each older product keeps this share of the score of the next newer one.
const RECENT_DECAY: f32 = 0.9;

/// The candidates' title words over their own lexicon, kept while the page ranks the same candidates
/// (the usual case: one catalog, many calls), which spares splitting and weighing every title again.
pub(super) struct CandidateWords {
    /// `(id, title)` of every candidate, in order: the cache's key, compared exactly.
    key: Vec<(String, Option<String>)>,
    lexicon: Lexicon,
    titles: Vec<Option<WordVector>>,
}

impl CandidateWords {
    fn matches(&self, candidates: &[Candidate]) -> bool {
        self.key.len() == candidates.len()
            && self
                .key
                .iter()
                .zip(candidates)
                .all(|((id, t), c)| *id == c.id && *t == c.title)
    }

    fn new(candidates: &[Candidate]) -> Self {
        let lexicon = Lexicon::new(candidates.iter().filter_map(|c| c.title.as_deref()));
        let titles = candidates
            .iter()
            .map(|c| c.title.as_deref().map(|t| lexicon.vector(t)))
            .collect();
        let key = candidates
            .iter()
            .map(|c| (c.id.clone(), c.title.clone()))
            .collect();
        Self { key, lexicon, titles }
    }
}

/// Each candidate's title word overlap with the newest steps the model reads (see
/// [`crate::model::lexical`]), word weights counted over the candidates' titles; all 0 when the model
/// does not use it. A step's text is its query, its event's title, or the title of the candidate with
/// its product id; a step with none adds nothing (but still ages the older ones).
fn session_words(
    model: &SessionModel,
    cache: &Mutex<Option<CandidateWords>>,
    steps: &[(&Event, SessionStep)],
    candidates: &[Candidate],
) -> Vec<f32> {
    if model.lexical_mix() == 0.0 {
        return vec![0.0; candidates.len()];
    }
    // A poisoned lock only means an earlier call panicked mid-update: the cache is rebuilt below.
    let mut slot = cache.lock().unwrap_or_else(|p| p.into_inner());
    let words = match slot.take() {
        Some(w) if w.matches(candidates) => slot.insert(w),
        _ => slot.insert(CandidateWords::new(candidates)),
    };
    let title_of = |id: &str| candidates.iter().find(|c| c.id == id)?.title.as_deref();
    let recent = &steps[steps.len().saturating_sub(model.max_len())..];
    let texts: Vec<&str> = recent
        .iter()
        .map(|(e, _)| match (e.kind, &e.query, &e.title, &e.product_id) {
            (EventKind::Search, Some(q), _, _) => q.as_str(),
            (_, _, Some(t), _) => t.as_str(),
            (_, _, None, Some(id)) => title_of(id).unwrap_or(""),
            _ => "",
        })
        .collect();
    let profile = words.lexicon.session(texts.into_iter(), model.lexical_decay());
    words
        .titles
        .iter()
        .map(|t| t.as_ref().map_or(0.0, |t| profile.dot(t)))
        .collect()
}

pub(super) fn rank(
    vt: &mut Vitrine,
    placement: &Placement,
    candidates: &[Candidate],
    rules: &Rules,
) -> Result<Vec<Ranked>> {
    // Search needs the query's vector: encode it before the read-only part borrows the store.
    let query_vec = match placement {
        Placement::RerankSearch { query } => {
            let enc = vt.encoder.as_ref().ok_or_else(|| {
                Error::InvalidInput("rerankSearch needs the text encoder; pass `model` to create()".into())
            })?;
            if query.trim().is_empty() {
                return Err(Error::InvalidInput("rerankSearch: `query` is empty".into()));
            }
            let text = enc.with_role(Role::Query, query);
            Some(
                vt.vectors
                    .text_vector(enc, VectorStore::query_key(query), &text)?
                    .to_vec(),
            )
        }
        _ => None,
    };
    let steps = vt.steps();
    let step_only: Vec<_> = steps.iter().map(|(_, s)| *s).collect();
    let weights = zero_shot_weights(&step_only);
    let history: Vec<_> = steps.iter().map(|(e, s)| (*e, s.vector)).collect();
    let intent = zero_shot_intent(&step_only);
    // Ids the history rules out: purchases (unless allowed), and for forYou what was already seen.
    let hide_seen = matches!(placement, Placement::ForYou) && !rules.include_seen;
    let excluded: HashSet<&str> = vt
        .history
        .events()
        .filter(|e| match e.kind {
            EventKind::Purchase => rules.exclude_purchased,
            EventKind::Search => false,
            _ => hide_seen,
        })
        .filter_map(|e| e.product_id.as_deref())
        .collect();
    let vectors: Vec<Option<&[f32]>> = candidates.iter().map(|c| vt.vectors.get(&c.id)).collect();
    let n = candidates.len().max(1) as f32;

    let relevance: Vec<Option<f32>> = match placement {
        Placement::ForYou => match (vt.model_intent(&step_only)?, vt.session.as_ref()) {
            // The trained model scores in its own space; products it has no projection for stay unscored.
            (Some(m), Some(model)) => {
                let newest = step_only.last().map_or(&[][..], |s| s.vector);
                let words = session_words(model, &vt.words, &steps, candidates);
                candidates
                    .iter()
                    .zip(&vectors)
                    .zip(&words)
                    .map(|((c, v), &w)| {
                        let p = vt.projected.get(&c.id)?;
                        Some(model.score(&m, p, newest, v.unwrap_or(&[]), w))
                    })
                    .collect()
            }
            _ => vectors.iter().map(|v| v.map(|v| dot(&intent, v))).collect(),
        },
        Placement::SimilarTo { product_id } => {
            let anchor = vt.vectors.get(product_id).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "similarTo: product {product_id} has no vector; put it in the catalog file or among the candidates with a title"
                ))
            })?;
            candidates
                .iter()
                .zip(&vectors)
                .map(|(c, v)| {
                    if c.id == *product_id {
                        None
                    } else {
                        v.map(|v| dot(anchor, v))
                    }
                })
                .collect()
        }
        Placement::RerankSearch { .. } => {
            let q = query_vec.as_deref().unwrap_or(&[]);
            vectors
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let position = 1.0 - i as f32 / n;
                    // Results without a vector keep their place through the position term alone.
                    let (qs, is) = v.map_or((0.0, 0.0), |v| (dot(q, v), dot(&intent, v)));
                    Some(SEARCH_QUERY * qs + SEARCH_INTENT * is + SEARCH_POSITION * position)
                })
                .collect()
        }
        Placement::RecentlyViewed => {
            let mut order: Vec<&str> = Vec::new();
            for e in vt.history.events().rev() {
                if let (EventKind::View | EventKind::Click | EventKind::AddToCart, Some(id)) =
                    (e.kind, &e.product_id)
                {
                    if !order.contains(&id.as_str()) {
                        order.push(id);
                    }
                }
            }
            candidates
                .iter()
                .map(|c| {
                    order
                        .iter()
                        .position(|id| *id == c.id)
                        .map(|r| RECENT_DECAY.powi(r as i32))
                })
                .collect()
        }
    };

    let placed = apply_rules(candidates, &relevance, &vectors, rules, &excluded);
    Ok(placed
        .into_iter()
        .map(|p| {
            let c = &candidates[p.index];
            let v = vectors[p.index];
            let reasons = match placement {
                Placement::ForYou => v
                    .map(|v| history_reasons(&history, &weights, v))
                    .unwrap_or_default(),
                Placement::SimilarTo { product_id } => vec![Reason {
                    product_id: Some(product_id.clone()),
                    ..Reason::plain(ReasonKind::Product, 1.0)
                }],
                Placement::RerankSearch { query } => {
                    let q = query_vec.as_deref().unwrap_or(&[]);
                    let (qs, is) = v.map_or((0.0, 0.0), |v| (dot(q, v), dot(&intent, v)));
                    let mut r = vec![
                        Reason {
                            query: Some(query.clone()),
                            ..Reason::plain(ReasonKind::Query, SEARCH_QUERY * qs)
                        },
                        Reason::plain(ReasonKind::Position, SEARCH_POSITION * (1.0 - p.index as f32 / n)),
                    ];
                    // The intent's share is split over the history events that drove it.
                    if let Some(v) = v {
                        for h in history_reasons(&history, &weights, v) {
                            r.push(Reason {
                                weight: h.weight * SEARCH_INTENT * is,
                                ..h
                            });
                        }
                    }
                    normalise(r)
                }
                Placement::RecentlyViewed => vec![Reason::plain(ReasonKind::Recency, 1.0)],
            };
            Ranked {
                id: c.id.clone(),
                score: p.score,
                pinned: p.pinned,
                boost: p.boost,
                reasons,
            }
        })
        .collect())
}
