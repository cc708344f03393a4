//! Full-ranking leave-one-out metrics: the rank of each user's target among all items minus their
//! history, and HR@k / NDCG@k / MRR averaged over users.

use anyhow::Result;
use rayon::prelude::*;
use serde::Serialize;

/// One user's evaluation case: what they did before, and what they did next.
#[derive(Clone, Copy)]
pub struct Case<'a> {
    pub history: &'a [u32],
    pub target: u32,
    /// Unix seconds of each history item, where the data has them.
    pub times: Option<&'a [i64]>,
}

/// The 0-based rank of `target` among all items except `history` (the target itself stays a candidate
/// even if it was seen before). Ties go to the lower item index, so results do not depend on sort
/// order or threads; a NaN score ranks last.
pub fn rank_of(scores: &[f32], target: u32, history: &[u32]) -> usize {
    let t = target as usize;
    let key = |s: f32| if s.is_nan() { f32::NEG_INFINITY } else { s };
    let st = key(scores[t]);
    let beats = |j: usize| {
        let s = key(scores[j]);
        s > st || (s == st && j < t)
    };
    let mut rank = (0..scores.len()).filter(|&j| j != t && beats(j)).count();
    let mut seen = history.to_vec();
    seen.sort_unstable();
    seen.dedup();
    rank -= seen
        .iter()
        .filter(|&&j| j as usize != t && beats(j as usize))
        .count();
    rank
}

/// Averages over users; serialised as the `vitrine eval` output.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Metrics {
    #[serde(rename = "hr@10")]
    pub hr10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg10: f64,
    #[serde(rename = "hr@20")]
    pub hr20: f64,
    #[serde(rename = "ndcg@20")]
    pub ndcg20: f64,
    pub mrr: f64,
    pub users: usize,
}

impl Metrics {
    /// Metrics of 0-based ranks.
    pub fn from_ranks(ranks: &[usize]) -> Self {
        let mut m = Metrics {
            users: ranks.len(),
            ..Default::default()
        };
        for &r in ranks {
            let gain = 1.0 / ((r + 2) as f64).log2();
            if r < 10 {
                m.hr10 += 1.0;
                m.ndcg10 += gain;
            }
            if r < 20 {
                m.hr20 += 1.0;
                m.ndcg20 += gain;
            }
            m.mrr += 1.0 / (r + 1) as f64;
        }
        let n = ranks.len().max(1) as f64;
        for v in [&mut m.hr10, &mut m.ndcg10, &mut m.hr20, &mut m.ndcg20, &mut m.mrr] {
            *v /= n;
        }
        m
    }
}

/// Ranks every case: `scores` gets a chunk of cases (and the index of its first case) and returns
/// `chunk.len() × n_items` scores (row-major); chunks run in parallel.
pub fn evaluate<F>(cases: &[Case], n_items: usize, scores: F) -> Result<Metrics>
where
    F: Fn(usize, &[Case]) -> Result<Vec<f32>> + Sync,
{
    const CHUNK: usize = 256;
    let ranks = cases
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(i, chunk)| {
            let s = scores(i * CHUNK, chunk)?;
            anyhow::ensure!(
                s.len() == chunk.len() * n_items,
                "scorer returned {} values",
                s.len()
            );
            Ok(chunk
                .iter()
                .zip(s.chunks(n_items))
                .map(|(c, row)| rank_of(row, c.target, c.history))
                .collect::<Vec<_>>())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Metrics::from_ranks(&ranks.concat()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_exclude_history_and_break_ties_by_index() {
        let s = [0.9, 0.5, 0.7, 0.7, 0.1, f32::NAN];
        assert_eq!(rank_of(&s, 3, &[]), 2); // 0.9 and the tied lower index 2
        assert_eq!(rank_of(&s, 3, &[0, 0]), 1); // item 0 is history, counted once
        assert_eq!(rank_of(&s, 2, &[0]), 0);
        assert_eq!(rank_of(&s, 4, &[]), 4);
        assert_eq!(rank_of(&s, 5, &[]), 5); // NaN last
        assert_eq!(rank_of(&s, 1, &[1]), 3); // a seen target stays a candidate
    }

    #[test]
    fn metrics_match_a_hand_computed_ranking() {
        // ranks 0, 3, 12, 25: hits@10 = 2, hits@20 = 3
        let m = Metrics::from_ranks(&[0, 3, 12, 25]);
        let g = |r: f64| 1.0 / (r + 2.0).log2();
        assert!((m.hr10 - 0.5).abs() < 1e-12);
        assert!((m.hr20 - 0.75).abs() < 1e-12);
        assert!((m.ndcg10 - (1.0 + g(3.0)) / 4.0).abs() < 1e-12);
        assert!((m.ndcg20 - (1.0 + g(3.0) + g(12.0)) / 4.0).abs() < 1e-12);
        assert!((m.mrr - (1.0 + 0.25 + 1.0 / 13.0 + 1.0 / 26.0) / 4.0).abs() < 1e-12);
        assert_eq!(m.users, 4);
    }
}
