//! The session model's architecture, stored as JSON in the model file ([`super::session::KEY_SESSION_CONFIG`]).

use serde::{Deserialize, Serialize};

use super::session::KEY_SESSION_CONFIG;
use crate::error::{Error, Result};

/// The architecture, stored as JSON in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// Encoder vector length the model reads (384 for MiniLM).
    pub dims: usize,
    /// Transformer width.
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    /// Feed-forward inner width.
    pub ffn: usize,
    /// Steps read; older ones are dropped.
    pub max_len: usize,
    /// Length of intent and item vectors.
    pub out_dims: usize,
    /// Hidden width of the item adapter's MLP branch (0: linear adapter only).
    pub adapter_hidden: usize,
    /// Whether intent and item vectors are L2-normalised (scores are then cosines).
    pub normalize: bool,
    /// Whether each step enters through its item vector ([`super::SessionModel::item_vectors`]) rather than
    /// its raw text vector: input and output share the adapter, as SASRec shares item embeddings.
    #[serde(default)]
    pub tie_input: bool,
    pub layer_norm_eps: f64,
    /// Weight of the newest step's raw text similarity in the score (chosen on validation; 0 in older files).
    #[serde(default)]
    pub content_mix: f32,
    /// Weight of the title word overlap with the recent steps in the score (chosen on validation; 0 in
    /// older files: off).
    #[serde(default)]
    pub lexical_mix: f32,
    /// Each older step's share of that overlap relative to the next newer one, in [0, 1] (0: the
    /// newest step alone).
    #[serde(default)]
    pub lexical_decay: f32,
}

impl SessionConfig {
    /// Length of what the input projection reads: item vectors when tied, else text vectors.
    pub fn input_dims(&self) -> usize {
        if self.tie_input {
            self.out_dims
        } else {
            self.dims
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let ok = self.dims > 0
            && self.width > 0
            && self.heads > 0
            && self.width % self.heads == 0
            && self.ffn > 0
            && self.max_len > 0
            && self.max_len <= 4096
            && self.out_dims > 0
            && self.layers <= 16
            && self.content_mix.is_finite()
            && self.lexical_mix.is_finite()
            && (0.0..=1.0).contains(&self.lexical_decay);
        if ok {
            Ok(())
        } else {
            Err(Error::ModelMetadata {
                key: KEY_SESSION_CONFIG.into(),
                reason: format!("inconsistent architecture {self:?}"),
            })
        }
    }
}
