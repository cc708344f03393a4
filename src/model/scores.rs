//! The score constants that depend on how an encoder spreads its cosines, read from the model file.
//!
//! The copy fit weight, the search re-rank mix and the zero-shot mix add cosines to terms on other
//! scales (a logit, a page position, a word overlap), so their weights were tuned on all-MiniLM-L6-v2's
//! cosines. Another encoder bunches its cosines differently: multilingual-e5's unrelated product titles
//! sit at ≈ 0.8, MiniLM's at ≈ 0.1, and e5's pairwise cosines spread about 3× less. A model file
//! therefore carries its own weights under [`KEY_SCORES`]; a file without the key (the shipped MiniLM
//! files, whose bytes and checksum-tied catalog vectors stay as they are) gets MiniLM's, which are the
//! documented defaults below.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `string`, optional: a JSON object of [`Scores`]; absent keys (or the whole entry) take the defaults.
pub const KEY_SCORES: &str = "vitrine.scores";

/// The encoder-dependent weights of the SDK's scores. Defaults: the values tuned on MiniLM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scores {
    /// pickCopy's default fit weight: logits of prior click rate per unit of cosine fit (MiniLM: 8, with
    /// which the demo's Christmas session sees the Christmas banner ≈ 9 times in 10 with no data).
    pub fit_weight: f32,
    /// rerankSearch: weight of the query's cosine to a title (MiniLM: 0.6).
    pub search_query: f32,
    /// rerankSearch: weight of the session intent's cosine to a title (MiniLM: 0.25).
    pub search_intent: f32,
    /// rerankSearch: weight of the page's own order, 1 for the first result down to 0 (MiniLM: 0.15).
    pub search_position: f32,
    /// Zero-shot forYou: weight of the cosine to the intent (MiniLM: 1.0, see `ZeroShotMix::content`).
    pub zero_shot_content: f32,
    /// Zero-shot forYou: weight of the title word overlap (MiniLM: 1.5, see `ZeroShotMix::lexical`).
    pub zero_shot_lexical: f32,
    /// MMR diversity: the penalty per unit of cosine to a product already placed, beside relevance
    /// made of the weights above (MiniLM: 1, with which the page's λ was chosen).
    pub diversity_similarity: f32,
}

impl Default for Scores {
    fn default() -> Self {
        Self {
            fit_weight: 8.0,
            search_query: 0.6,
            search_intent: 0.25,
            search_position: 0.15,
            zero_shot_content: 1.0,
            zero_shot_lexical: 1.5,
            diversity_similarity: 1.0,
        }
    }
}

impl Scores {
    /// The weights a model file carries in `json` (the value of [`KEY_SCORES`]); `None`: MiniLM's.
    pub fn from_metadata(json: Option<&str>) -> Result<Self> {
        let Some(json) = json else {
            return Ok(Self::default());
        };
        let bad = |reason: String| Error::ModelMetadata {
            key: KEY_SCORES.into(),
            reason,
        };
        let s: Self = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let all = [
            s.fit_weight,
            s.search_query,
            s.search_intent,
            s.search_position,
            s.zero_shot_content,
            s.zero_shot_lexical,
            s.diversity_similarity,
        ];
        if all.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(bad(format!("every weight must be finite and ≥ 0: {json}")));
        }
        Ok(s)
    }

    /// The JSON a converter writes under [`KEY_SCORES`].
    pub fn to_metadata(&self) -> String {
        serde_json::to_string(self).expect("plain numbers serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_entries_are_minilm_values() {
        assert_eq!(Scores::from_metadata(None).unwrap(), Scores::default());
        let s = Scores::from_metadata(Some(r#"{"fit_weight": 20.5}"#)).unwrap();
        assert_eq!(s.fit_weight, 20.5);
        assert_eq!(s.search_query, 0.6);
        assert_eq!(s.zero_shot_lexical, 1.5);
    }

    #[test]
    fn invalid_entries_are_refused() {
        assert!(Scores::from_metadata(Some(r#"{"fit_weight": -1}"#)).is_err());
        assert!(Scores::from_metadata(Some(r#"{"fit_wieght": 3}"#)).is_err());
        assert!(Scores::from_metadata(Some(r#"{"fit_weight": "8"}"#)).is_err());
        assert!(Scores::from_metadata(Some("8")).is_err());
    }

    #[test]
    fn round_trips() {
        let s = Scores {
            fit_weight: 21.0,
            search_query: 1.5,
            ..Scores::default()
        };
        assert_eq!(Scores::from_metadata(Some(&s.to_metadata())).unwrap(), s);
    }
}
