//! The session score's mixes (`content_mix`, `lexical_mix`, `lexical_decay`), chosen on validation by
//! `vitrine train`: every candidate mix is ranked in one pass over the cases, from the score's parts
//! computed once (the model's cosine, the newest step's text cosine, the word overlap per decay).

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use vitrine::model::session::SessionConfig;
use vitrine::model::SessionModel;

use crate::baselines::WordIndex;
use crate::eval::{purchase_steps, score};
use crate::metrics::{rank_of, Case, Metrics};

/// One candidate setting of the score's mixes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    pub content: f32,
    pub lexical: f32,
    pub decay: f32,
}

/// Validation metrics of `model` (its own mixes ignored) under each of `mixes`, in order: the same
/// figures `session_metrics` gives a model file carrying that mix.
pub fn session_grid(
    model: &SessionModel,
    vectors: &[f32],
    texts: &[String],
    cases: &[Case],
    mixes: &[Mix],
) -> Result<Vec<Metrics>> {
    use rayon::prelude::*;
    let dims = model.dims();
    let n = vectors.len() / dims;
    let items = Tensor::from_vec(model.item_vectors(vectors)?, (n, model.out_dims()), &Device::Cpu)?;
    let text = Tensor::from_vec(vectors.to_vec(), (n, dims), &Device::Cpu)?;
    let mut decays: Vec<f32> = mixes
        .iter()
        .filter(|m| m.lexical != 0.0)
        .map(|m| m.decay)
        .collect();
    decays.sort_by(f32::total_cmp);
    decays.dedup();
    let words = WordIndex::new(texts);
    // Intents outside rayon (see `session_metrics`: candle's matmul fans out itself).
    let mut intents = Vec::with_capacity(cases.len() * model.out_dims());
    let mut newest = Vec::with_capacity(cases.len() * dims);
    for c in cases {
        intents.extend(model.intent(&purchase_steps(vectors, dims, c.history))?);
        let last = *c.history.last().context("a case has a history")? as usize;
        newest.extend_from_slice(&vectors[last * dims..(last + 1) * dims]);
    }
    const CHUNK: usize = 256;
    let ranks: Vec<Vec<Vec<usize>>> = cases
        .chunks(CHUNK)
        .enumerate()
        .map(|(k, chunk)| {
            let (first, rows) = (k * CHUNK, chunk.len());
            let od = model.out_dims();
            let m = score(intents[first * od..(first + rows) * od].to_vec(), rows, &items)?;
            let t = score(newest[first * dims..(first + rows) * dims].to_vec(), rows, &text)?;
            let w: Vec<Vec<f32>> = decays
                .par_iter()
                .map(|&d| {
                    let mut w = vec![0.0; rows * n];
                    for (case, row) in chunk.iter().zip(w.chunks_mut(n)) {
                        let recent = &case.history[case.history.len().saturating_sub(model.max_len())..];
                        words.add_overlap(row, recent.iter().map(|&i| texts[i as usize].as_str()), d, 1.0);
                    }
                    w
                })
                .collect();
            Ok(mixes
                .par_iter()
                .map(|mix| {
                    let wi = decays.iter().position(|d| *d == mix.decay);
                    let mut row = vec![0f32; n];
                    (0..rows)
                        .map(|r| {
                            let span = r * n..(r + 1) * n;
                            // The order of `SessionModel::score`'s sum: model, content, words.
                            for (j, x) in row.iter_mut().enumerate() {
                                *x = m[span.start + j] + mix.content * t[span.start + j];
                            }
                            if let (Some(wi), true) = (wi, mix.lexical != 0.0) {
                                for (x, y) in row.iter_mut().zip(&w[wi][span.clone()]) {
                                    *x += mix.lexical * y;
                                }
                            }
                            rank_of(&row, chunk[r].target, chunk[r].history)
                        })
                        .collect()
                })
                .collect())
        })
        .collect::<Result<_>>()?;
    Ok((0..mixes.len())
        .map(|i| {
            Metrics::from_ranks(
                &ranks
                    .iter()
                    .flat_map(|r| r[i].iter().copied())
                    .collect::<Vec<_>>(),
            )
        })
        .collect())
}

/// Chooses `content_mix`, then `lexical_mix` with its decay, on validation: every pair of the given
/// values in one pass (a few scalars, so the risk of fitting them is nil). Returns the config with the
/// best mix and its validation NDCG@10.
pub fn choose(
    model: &SessionModel,
    vectors: &[f32],
    texts: &[String],
    valid: &[Case],
    content: &[f32],
    lexical: &[f32],
    decay: &[f32],
) -> Result<(SessionConfig, f64)> {
    let mut grid = Vec::new();
    for &c in content.iter().chain([0.0].iter()) {
        for &l in lexical.iter().chain([0.0].iter()) {
            for &d in decay {
                grid.push(Mix {
                    content: c,
                    lexical: l,
                    decay: if l == 0.0 { 0.0 } else { d },
                });
            }
        }
    }
    grid.dedup_by(|a, b| a == b);
    let metrics = session_grid(model, vectors, texts, valid, &grid)?;
    let (mut best, mut best_ndcg) = (grid[0], -1.0);
    for (mix, m) in grid.iter().zip(&metrics) {
        if m.ndcg10 > best_ndcg {
            (best, best_ndcg) = (*mix, m.ndcg10);
        }
    }
    for (mix, m) in grid
        .iter()
        .zip(&metrics)
        .filter(|(x, _)| x.lexical == best.lexical || x.content == best.content)
    {
        eprintln!(
            "  content {} lexical {} decay {}: valid ndcg@10 {:.4}",
            mix.content, mix.lexical, mix.decay, m.ndcg10
        );
    }
    let cfg = SessionConfig {
        content_mix: best.content,
        lexical_mix: best.lexical,
        lexical_decay: best.decay,
        ..model.config().clone()
    };
    Ok((cfg, best_ndcg))
}
