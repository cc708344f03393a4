//! Relevance per placement, then rules and explanations. Relevance is a cosine (all vectors are unit
//! length), so boosts and MMR's λ act on one scale whatever the placement.

use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashMap, FxHashSet};

use super::vectors::VectorStore;
use super::Vitrine;
use crate::error::{Error, Result};
use crate::history::{Event, EventKind};
use crate::model::lexical::{Lexicon, WordVector};
use crate::model::zero_shot::{ZeroShotMix, ZeroShotStep};
use crate::model::{Role, Scores as ModelScores, SessionModel, SessionStep};
use crate::rank::explain::{history_reasons, normalise, zero_shot_reasons, Reason, ReasonKind};
use crate::rank::{apply_rules_scaled, dot, Candidate, Placement, Ranked, Rules};

/// Recently viewed: each older product keeps this share of the score of the next newer one.
const RECENT_DECAY: f32 = 0.9;

/// The candidates' title words over their own lexicon, kept while the page ranks the same candidates
/// (the usual case: one catalog, many calls), which spares splitting and weighing every title again.
pub(super) struct CandidateWords {
    /// `(id, title)` of every candidate, in order: the cache's key, compared exactly.
    key: Vec<(String, Option<String>)>,
    /// Candidate index by id: a history step without a title takes its candidate's.
    index: FxHashMap<String, usize>,
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
        let index = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Self {
            key,
            index,
            lexicon,
            titles,
        }
    }
}

/// The candidates' words: the cached ones while the same candidates come back, else counted anew and
/// cached for the next call.
fn candidate_words(
    cache: &Mutex<Option<Arc<CandidateWords>>>,
    candidates: &[Candidate],
) -> Arc<CandidateWords> {
    // A poisoned lock only means an earlier call panicked mid-update: the cache is rebuilt here.
    let mut slot = cache.lock().unwrap_or_else(|p| p.into_inner());
    match slot.as_ref() {
        Some(w) if w.matches(candidates) => Arc::clone(w),
        _ => Arc::clone(slot.insert(Arc::new(CandidateWords::new(candidates)))),
    }
}

/// A step's text for the word overlap: its query, its event's title, or the title of the candidate with
/// its product id; "" when there is none (the step adds no words but still ages the older ones).
/// `words`, when the placement has them, finds the candidate by id without a scan (50 steps × 1,000
/// candidates of string compares were a tenth of a forYou call).
fn step_text<'a>(e: &'a Event, candidates: &'a [Candidate], words: Option<&CandidateWords>) -> &'a str {
    let title_of = |id: &str| match words {
        Some(w) => candidates.get(*w.index.get(id)?)?.title.as_deref(),
        None => candidates.iter().find(|c| c.id == id)?.title.as_deref(),
    };
    match (e.kind, &e.query, &e.title, &e.product_id) {
        (EventKind::Search, Some(q), _, _) => q.as_str(),
        (_, _, Some(t), _) => t.as_str(),
        (_, _, None, Some(id)) => title_of(id).unwrap_or(""),
        _ => "",
    }
}

/// Each candidate's title word overlap with the newest steps the model reads (see
/// [`crate::model::lexical`]), word weights counted over the candidates' titles; all 0 when the model
/// does not use it.
fn session_words(model: &SessionModel, words: &CandidateWords, steps: &[ZeroShotStep]) -> Vec<f32> {
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

/// What a placement contributes: each candidate's relevance (`None`: not placed by relevance) and
/// the reasons of the candidate at an index, once placed.
struct Scores<'a> {
    relevance: Vec<Option<f32>>,
    reasons: Box<dyn Fn(usize) -> Result<Vec<Reason>> + 'a>,
}

/// What the placements read: the history's steps with a vector (and as the zero-shot score reads them:
/// with their texts and prices), the zero-shot mix, weights and intent, and each candidate's vector.
struct Session<'a> {
    steps: Vec<(&'a Event, SessionStep<'a>)>,
    zero_shot: Vec<ZeroShotStep<'a>>,
    mix: ZeroShotMix,
    /// The encoder's score weights (search mix; the zero-shot mix's content and word weights).
    weights_of_model: ModelScores,
    weights: Vec<f32>,
    intent: Vec<f32>,
    vectors: Vec<Option<&'a [f32]>>,
    /// The candidates' title words, for the placements that read them (forYou).
    words: Option<Arc<CandidateWords>>,
}

impl<'a> Session<'a> {
    fn new(vt: &'a Vitrine, candidates: &'a [Candidate], words: Option<Arc<CandidateWords>>) -> Self {
        let steps = vt.steps();
        let zero_shot: Vec<ZeroShotStep> = steps
            .iter()
            .map(|&(e, step)| ZeroShotStep {
                step,
                text: step_text(e, candidates, words.as_deref()),
                price: e.price.map(|p| p as f32),
            })
            .collect();
        let model = vt.scores();
        let mix = ZeroShotMix {
            content: model.zero_shot_content,
            lexical: model.zero_shot_lexical,
            ..ZeroShotMix::default()
        };
        Self {
            weights_of_model: model,
            weights: mix.weights(&zero_shot),
            intent: mix.intent(&zero_shot),
            vectors: candidates.iter().map(|c| vt.vectors.get(&c.id)).collect(),
            zero_shot,
            mix,
            steps,
            words,
        }
    }

    /// The history events that drove the intent towards `v`, with their shares.
    fn history_reasons(&self, v: &[f32]) -> Result<Vec<Reason>> {
        let history: Vec<_> = self.steps.iter().map(|(e, s)| (*e, s.vector)).collect();
        history_reasons(&history, &self.weights, v)
    }

    /// The zero-shot intent's cosine to `v`; 0 without an intent (no usable history yet).
    fn affinity(&self, v: &[f32]) -> Result<f32> {
        if self.intent.is_empty() {
            return Ok(0.0);
        }
        dot(&self.intent, v)
    }
}

pub(super) fn rank(
    vt: &mut Vitrine,
    placement: &Placement,
    candidates: &[Candidate],
    rules: &Rules,
) -> Result<Vec<Ranked>> {
    // Search needs the query's vector: encode it before the placements borrow the store.
    let query_vec = match placement {
        Placement::RerankSearch { query } => Some(query_vector(vt, query)?),
        _ => None,
    };
    let vt = &*vt;
    let words = matches!(placement, Placement::ForYou).then(|| candidate_words(&vt.words, candidates));
    let s = Session::new(vt, candidates, words);
    let scores = match placement {
        Placement::ForYou => for_you(vt, &s, candidates)?,
        Placement::SimilarTo { product_id } => similar_to(vt, &s, candidates, product_id)?,
        Placement::RerankSearch { query } => rerank_search(&s, query, query_vec.as_deref().unwrap_or(&[]))?,
        Placement::RecentlyViewed => recently_viewed(vt, candidates),
    };
    let excluded = excluded(vt, placement, rules);
    let placed = apply_rules_scaled(
        candidates,
        &scores.relevance,
        &s.vectors,
        rules,
        &excluded,
        s.weights_of_model.diversity_similarity,
    )?;
    placed
        .into_iter()
        .map(|p| {
            Ok(Ranked {
                id: candidates[p.index].id.clone(),
                score: p.score,
                pinned: p.pinned,
                boost: p.boost,
                reasons: (scores.reasons)(p.index)?,
            })
        })
        .collect()
}

/// Ids the history rules out: purchases (unless allowed), and for forYou what was already seen.
fn excluded<'a>(vt: &'a Vitrine, placement: &Placement, rules: &Rules) -> FxHashSet<&'a str> {
    let hide_seen = matches!(placement, Placement::ForYou) && !rules.include_seen;
    vt.history
        .events()
        .filter(|e| match e.kind {
            EventKind::Purchase => rules.exclude_purchased,
            EventKind::Search => false,
            _ => hide_seen,
        })
        .filter_map(|e| e.product_id.as_deref())
        .collect()
}

/// forYou: the trained session model scores in its own space (products it has no projection for stay
/// unscored); without it, the zero-shot default, exactly what `vitrine eval --method zero-shot` scores.
/// Either way the reasons are the zero-shot score's parts: the history events (or the title words shared
/// with them) that drove it.
fn for_you<'a>(vt: &'a Vitrine, s: &'a Session<'a>, candidates: &'a [Candidate]) -> Result<Scores<'a>> {
    let words = match &s.words {
        Some(w) => Arc::clone(w),
        None => candidate_words(&vt.words, candidates),
    };
    let profile = s.mix.profile(&s.zero_shot, &words.lexicon);
    let no_words = WordVector::default();
    let relevance = match (vt.model_intent(&s.steps)?, vt.session.as_ref()) {
        (Some(m), Some(model)) => {
            let newest = s.steps.last().map_or(&[][..], |(_, st)| st.vector);
            let overlap = session_words(model, &words, &s.zero_shot);
            // A product is scored with its projection and its text vector (the projection's source).
            let scored = candidates
                .iter()
                .zip(&s.vectors)
                .zip(&overlap)
                .map(|((c, v), &w)| {
                    let (Some(p), Some(v)) = (vt.projected.get(&c.id), v) else {
                        return Ok(None);
                    };
                    model.score(&m, p, newest, v, w).map(Some)
                });
            scored.collect::<Result<_>>()?
        }
        _ => (s.vectors.iter().zip(&words.titles).zip(candidates))
            .map(|((v, t), c)| {
                let Some(v) = v else { return Ok(None) };
                let t = t.as_ref().unwrap_or(&no_words);
                s.mix.score(&profile, v, t, c.price.map(|p| p as f32)).map(Some)
            })
            .collect::<Result<_>>()?,
    };
    let events: Vec<&Event> = s.steps.iter().map(|(e, _)| *e).collect();
    let reasons = move |i: usize| {
        let Some(v) = s.vectors[i] else {
            return Ok(Vec::new());
        };
        let title = candidates[i].title.as_deref().unwrap_or("");
        let t = words.titles[i].as_ref().unwrap_or(&no_words);
        let parts = s.mix.contributions(&profile, &s.zero_shot, v, t)?;
        let shared = |k: usize| words.lexicon.shared(s.zero_shot[k].text, title);
        Ok(zero_shot_reasons(&events, &parts, shared))
    };
    Ok(Scores {
        relevance,
        reasons: Box::new(reasons),
    })
}

/// similarTo: each candidate's cosine to the anchor product (which is never its own result).
fn similar_to<'a>(
    vt: &'a Vitrine,
    s: &Session<'a>,
    candidates: &[Candidate],
    product_id: &'a str,
) -> Result<Scores<'a>> {
    let anchor = vt.vectors.get(product_id).ok_or_else(|| {
        Error::InvalidInput(format!(
            "similarTo: product {product_id} has no vector; put it in the catalog file or among the candidates with a title"
        ))
    })?;
    let relevance = candidates
        .iter()
        .zip(&s.vectors)
        .map(|(c, v)| match v {
            Some(v) if c.id != product_id => dot(anchor, v).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;
    let reason = move |_| {
        Ok(vec![Reason {
            product_id: Some(product_id.to_owned()),
            ..Reason::plain(ReasonKind::Product, 1.0)
        }])
    };
    Ok(Scores {
        relevance,
        reasons: Box::new(reason),
    })
}

/// The vector of a search query (encoded once, then cached).
fn query_vector(vt: &mut Vitrine, query: &str) -> Result<Vec<f32>> {
    let enc = vt.encoder.as_ref().ok_or_else(|| {
        Error::InvalidInput("rerankSearch needs the text encoder; pass `model` to create()".into())
    })?;
    if query.trim().is_empty() {
        return Err(Error::InvalidInput("rerankSearch: `query` is empty".into()));
    }
    let text = enc.with_role(Role::Query, query);
    Ok(vt
        .vectors
        .text_vector(enc, VectorStore::query_key(query), &text)?
        .to_vec())
}

/// rerankSearch: a blend of the query match, the session intent and the page's own order, weighted by
/// the encoder's [`ModelScores`] (MiniLM: 0.6, 0.25, 0.15). Results
/// without a vector keep their place through the position term alone.
fn rerank_search<'a>(s: &'a Session<'a>, query: &'a str, q: &'a [f32]) -> Result<Scores<'a>> {
    let n = s.vectors.len().max(1) as f32;
    let ModelScores {
        search_query,
        search_intent,
        search_position,
        ..
    } = s.weights_of_model;
    let position = move |i: usize| 1.0 - i as f32 / n;
    let terms = move |i: usize| -> Result<(f32, f32)> {
        match s.vectors[i] {
            Some(v) => Ok((dot(q, v)?, s.affinity(v)?)),
            None => Ok((0.0, 0.0)),
        }
    };
    let relevance = (0..s.vectors.len())
        .map(|i| {
            let (qs, is) = terms(i)?;
            Ok(Some(
                search_query * qs + search_intent * is + search_position * position(i),
            ))
        })
        .collect::<Result<_>>()?;
    let reasons = move |i: usize| {
        let (qs, is) = terms(i)?;
        let mut r = vec![
            Reason {
                query: Some(query.to_owned()),
                ..Reason::plain(ReasonKind::Query, search_query * qs)
            },
            Reason::plain(ReasonKind::Position, search_position * position(i)),
        ];
        // The intent's share is split over the history events that drove it.
        if let Some(v) = s.vectors[i] {
            for h in s.history_reasons(v)? {
                r.push(Reason {
                    weight: h.weight * search_intent * is,
                    ..h
                });
            }
        }
        Ok(normalise(r))
    };
    Ok(Scores {
        relevance,
        reasons: Box::new(reasons),
    })
}

/// recentlyViewed: the viewed, clicked or carted products, newest first, each older one decayed.
fn recently_viewed<'a>(vt: &Vitrine, candidates: &[Candidate]) -> Scores<'a> {
    let mut order: Vec<&str> = Vec::new();
    for e in vt.history.events().rev() {
        if let (EventKind::View | EventKind::Click | EventKind::AddToCart, Some(id)) = (e.kind, &e.product_id)
        {
            if !order.contains(&id.as_str()) {
                order.push(id);
            }
        }
    }
    let relevance = candidates
        .iter()
        .map(|c| {
            order
                .iter()
                .position(|id| *id == c.id)
                .map(|r| RECENT_DECAY.powi(r as i32))
        })
        .collect();
    Scores {
        relevance,
        reasons: Box::new(|_| Ok(vec![Reason::plain(ReasonKind::Recency, 1.0)])),
    }
}
