//! On-device segments: a few centroids of the session intent, trained offline (spherical k-means over
//! real sessions, `vitrine segments`) and shipped beside the model. The segment id is the only context a
//! report carries, so there are few of them (≤ 8) and they say nothing about a single product.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::report::SEGMENTS;

/// The shipped file: centroids in the encoder's space, tied to the encoder that made the intents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segments {
    /// Format version, 1.
    pub version: u32,
    /// SHA-256 of the encoder weights ([`crate::Encoder::checksum`]).
    pub encoder: String,
    /// Where the sessions came from, for the model card.
    pub source: String,
    /// Unit-length centroids, at most [`SEGMENTS`].
    pub centroids: Vec<Vec<f32>>,
}

impl Segments {
    /// Parses and checks a segments file.
    pub fn from_json(json: &str) -> Result<Self> {
        let s: Segments = serde_json::from_str(json).map_err(|e| {
            Error::InvalidInput(format!(
                "segments file is not valid: {e}; regenerate it with `vitrine segments`"
            ))
        })?;
        let dims = s.centroids.first().map_or(0, Vec::len);
        if s.version != 1 || s.centroids.is_empty() || s.centroids.len() > SEGMENTS as usize || dims == 0 {
            return Err(Error::InvalidInput(format!(
                "segments file: version {} with {} centroids; expected version 1 with 1..={SEGMENTS}",
                s.version,
                s.centroids.len()
            )));
        }
        if s.centroids
            .iter()
            .any(|c| c.len() != dims || c.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::InvalidInput(
                "segments file: centroids differ in length or hold non-numbers".into(),
            ));
        }
        Ok(s)
    }

    /// The segment of a unit intent: its nearest centroid by cosine; 0 for an empty intent.
    pub fn assign(&self, intent: &[f32]) -> u8 {
        nearest(&self.centroids, intent).map_or(0, |(i, _)| i as u8)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn nearest(centroids: &[Vec<f32>], x: &[f32]) -> Option<(usize, f32)> {
    if x.iter().all(|v| *v == 0.0) {
        return None;
    }
    centroids
        .iter()
        .map(|c| dot(c, x))
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Spherical k-means (cosine) over unit vectors: k-means++ seeding from `seed`, then at most `iters`
/// rounds of assign/re-centre. Deterministic for a given input and seed. Needs at least `k` points.
pub fn kmeans(points: &[Vec<f32>], k: usize, iters: usize, seed: u64) -> Result<Vec<Vec<f32>>> {
    if k == 0 || points.len() < k {
        return Err(Error::InvalidInput(format!(
            "k-means needs at least k = {k} points, got {}",
            points.len()
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut centroids = vec![points[rng.random_range(0..points.len())].clone()];
    while centroids.len() < k {
        // k-means++: the next seed is drawn with probability ∝ distance² to the nearest seed so far.
        let d: Vec<f64> = points
            .iter()
            .map(|p| {
                let best = nearest(&centroids, p).map_or(0.0, |(_, s)| s);
                f64::from((1.0 - best).max(0.0)).powi(2)
            })
            .collect();
        let total: f64 = d.iter().sum();
        let pick = if total > 0.0 {
            let mut r = rng.random::<f64>() * total;
            d.iter()
                .position(|x| {
                    r -= x;
                    r <= 0.0
                })
                .unwrap_or(points.len() - 1)
        } else {
            rng.random_range(0..points.len())
        };
        centroids.push(points[pick].clone());
    }
    let dims = points[0].len();
    let mut assign = vec![usize::MAX; points.len()];
    for _ in 0..iters {
        let mut changed = false;
        for (a, p) in assign.iter_mut().zip(points) {
            let i = nearest(&centroids, p).map_or(0, |(i, _)| i);
            changed |= *a != i;
            *a = i;
        }
        if !changed {
            break;
        }
        let mut sums = vec![vec![0f32; dims]; k];
        for (a, p) in assign.iter().zip(points) {
            sums[*a].iter_mut().zip(p).for_each(|(s, x)| *s += x);
        }
        for (c, mut s) in centroids.iter_mut().zip(sums) {
            // An emptied cluster keeps its old centre rather than collapsing to zero.
            if s.iter().any(|x| *x != 0.0) {
                normalise(&mut s);
                *c = s;
            }
        }
    }
    Ok(centroids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_recovers_planted_clusters_and_assign_uses_them() {
        // Three tight clusters around the axes of a 3-d space, in shuffled order.
        let mut rng = StdRng::seed_from_u64(3);
        let mut points = Vec::new();
        for i in 0..90 {
            let mut p = vec![
                0.05 * rng.random::<f32>(),
                0.05 * rng.random::<f32>(),
                0.05 * rng.random::<f32>(),
            ];
            p[i % 3] += 1.0;
            normalise(&mut p);
            points.push(p);
        }
        let c = kmeans(&points, 3, 50, 7).unwrap();
        let seg = Segments {
            version: 1,
            encoder: "x".into(),
            source: "test".into(),
            centroids: c,
        };
        for axis in 0..3 {
            let mut e = vec![0f32; 3];
            e[axis] = 1.0;
            let s = seg.assign(&e) as usize;
            assert!(
                seg.centroids[s][axis] > 0.99,
                "axis {axis} → {:?}",
                seg.centroids[s]
            );
        }
        let ids: std::collections::HashSet<u8> = (0..3)
            .map(|a| {
                seg.assign(&[
                    (a == 0) as u8 as f32,
                    (a == 1) as u8 as f32,
                    (a == 2) as u8 as f32,
                ])
            })
            .collect();
        assert_eq!(ids.len(), 3, "each cluster has its own segment");
        assert_eq!(seg.assign(&[0.0; 3]), 0);
        assert_eq!(kmeans(&points, 3, 50, 7).unwrap(), seg.centroids, "deterministic");
    }

    #[test]
    fn bad_files_are_rejected() {
        assert!(Segments::from_json("{}").is_err());
        let nine =
            serde_json::json!({"version": 1, "encoder": "e", "source": "s", "centroids": vec![vec![1.0]; 9]});
        assert!(Segments::from_json(&nine.to_string()).is_err());
        let ragged = serde_json::json!({"version": 1, "encoder": "e", "source": "s", "centroids": [[1.0], [1.0, 0.0]]});
        assert!(Segments::from_json(&ragged.to_string()).is_err());
        assert!(kmeans(&[vec![1.0]], 2, 10, 1).is_err());
    }
}
