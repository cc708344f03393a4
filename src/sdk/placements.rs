//! Relevance per placement, then rules and explanations. Relevance is a cosine (all vectors are unit
//! length), so boosts and MMR's λ act on one scale whatever the placement.

use std::collections::HashSet;
use std::sync::Mutex;

use super::vectors::VectorStore;
use super::Vitrine;
use crate::error::{Error, Result};
use crate::history::{Event, EventKind};
use crate::model::lexical::{Lexicon, WordVector};
use crate::model::zero_shot::{ZeroShotMix, ZeroShotStep};
use crate::model::{SessionModel, SessionStep};
use crate::rank::explain::{history_reasons, normalise, zero_shot_reasons, Reason, ReasonKind};
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

/// The candidates' words: the cached ones while the same candidates come back, else counted anew. Taken
/// out of the cache for the call and put back by [`keep_words`].
fn candidate_words(cache: &Mutex<Option<CandidateWords>>, candidates: &[Candidate]) -> CandidateWords {
    // A poisoned lock only means an earlier call panicked mid-update: the cache is rebuilt here.
    let cached = cache.lock().unwrap_or_else(|p| p.into_inner()).take();
    match cached {
        Some(w) if w.matches(candidates) => w,
        _ => CandidateWords::new(candidates),
    }
}

fn keep_words(cache: &Mutex<Option<CandidateWords>>, words: CandidateWords) {
    *cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(words);
}

/// A step's text for the word overlap: its query, its event's title, or the title of the candidate with
/// its product id; "" when there is none (the step adds no words but still ages the older ones).
fn step_text<'a>(e: &'a Event, candidates: &'a [Candidate]) -> &'a str {
    let title_of = |id: &str| candidates.iter().find(|c| c.id == id)?.title.as_deref();
    match (e.kind, &e.query, &e.title, &e.product_id) {
        (EventKind::Search, Some(q), _, _) => q.as_str(),
        (_, _, Some(t), _) => t.as_str(),
        (_, _, None, Some(id)) => title_of(id).unwrap_or(""),
        _ => "",
    }
}

/// The history's steps as the zero-shot score reads them (texts from [`step_text`], the event's price).
fn zero_shot_steps<'a>(steps: &[(&'a Event, SessionStep<'a>)], candidates: &'a [Candidate]) -> Vec<ZeroShotStep<'a>> {
    steps
        .iter()
        .map(|&(e, step)| ZeroShotStep {
            step,
            text: step_text(e, candidates),
            price: e.price.map(|p| p as f32),
        })
        .collect()
}

/// Each candidate's title word overlap with the newest steps the model reads (see
/// [`crate::model::lexical`]), word weights counted over the candidates' titles; all 0 when the model
/// does not use it.
fn session_words(
    model: &SessionModel,
    words: &CandidateWords,
    steps: &[ZeroShotStep],
) -> Vec<f32> {
    if model.lexical_mix() == 0.0 {
        return vec![0.0; words.titles.len()];
    }
    let recent = &steps[steps.len().saturating_sub(model.max_len())..];
    let profile = words
        .lexicon
        .session(recent.iter().map(|s| s.text), model.lexical_decay());
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
            Some(
                vt.vectors
                    .text_vector(enc, VectorStore::query_key(query), query)?
                    .to_vec(),
            )
        }
        _ => None,
    };
    let steps = vt.steps();
    let step_only: Vec<_> = steps.iter().map(|(_, s)| *s).collect();
    let zs = zero_shot_steps(&steps, candidates);
    let events: Vec<&Event> = steps.iter().map(|(e, _)| *e).collect();
    let mix = ZeroShotMix::default();
    let weights = mix.weights(&zs);
    let history: Vec<_> = steps.iter().map(|(e, s)| (*e, s.vector)).collect();
    let intent = mix.intent(&zs);
    // Title words only where they score: forYou.
    let words = matches!(placement, Placement::ForYou).then(|| candidate_words(&vt.words, candidates));
    let no_words = WordVector::default();
    let title_words = |i: usize| match &words {
        Some(w) => w.titles[i].as_ref().unwrap_or(&no_words),
        None => &no_words,
    };
    let no_lexicon = Lexicon::default();
    let profile = mix.profile(&zs, words.as_ref().map_or(&no_lexicon, |w| &w.lexicon));
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
                let words = words
                    .as_ref()
                    .map_or_else(|| vec![0.0; candidates.len()], |w| session_words(model, w, &zs));
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
            // The zero-shot default: exactly what `vitrine eval --method zero-shot` scores.
            _ => vectors
                .iter()
                .zip(candidates)
                .enumerate()
                .map(|(i, (v, c))| v.map(|v| mix.score(&profile, v, title_words(i), c.price.map(|p| p as f32))))
                .collect(),
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
    let ranked: Vec<Ranked> = placed
        .into_iter()
        .map(|p| {
            let c = &candidates[p.index];
            let v = vectors[p.index];
            let reasons = match placement {
                Placement::ForYou => v
                    .map(|v| {
                        let parts = mix.contributions(&profile, &zs, v, title_words(p.index));
                        let title = c.title.as_deref().unwrap_or("");
                        let lexicon = words.as_ref().map_or(&no_lexicon, |w| &w.lexicon);
                        zero_shot_reasons(&events, &parts, |i| lexicon.shared(zs[i].text, title))
                    })
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
        .collect();
    if let Some(w) = words {
        keep_words(&vt.words, w);
    }
    Ok(ranked)
}
