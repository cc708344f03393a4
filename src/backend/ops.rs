//! The operations a model's forward pass is written in, and the buffers they act on. A model writes its
//! layer sequence once against [`Ops`]; [`super::Device`] runs it on either backend: the CPU executes
//! each operation at once, the GPU records it into the forward's one submission.

use super::weights::{LinearId, NormId};
use crate::error::{Error, Result};

/// One of a forward's activation buffers: `rows × width` floats, widths declared by the model when
/// it runs ([`super::Device::forward`]). Slot 0 holds the input rows on entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(pub usize);

/// What a forward starts from: `batch × seq` rows of slot 0 (the embeddings) and which tokens are
/// real (`mask` 1) or padding (0), row-major.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub rows: &'a [f32],
    pub mask: &'a [u32],
    pub batch: usize,
    pub seq: usize,
}

/// The operations of a transformer encoder's forward pass, over the rows of a batch.
pub trait Ops {
    /// `y ← x · Wᵀ + b` for every part of the stack, side by side in `y`'s rows.
    fn linear(&mut self, w: LinearId, x: Slot, y: Slot) -> Result<()>;
    /// Multi-head self-attention from `[query | key | value]` rows in `qkv` into `out` (`heads`
    /// heads of `out`'s width / `heads` values), padded keys masked out.
    fn attention(&mut self, heads: usize, qkv: Slot, out: Slot) -> Result<()>;
    /// `x ← LayerNorm(x + residual)`.
    fn add_layer_norm(&mut self, norm: NormId, residual: Slot, x: Slot) -> Result<()>;
    /// GELU (the erf form) in place.
    fn gelu(&mut self, x: Slot) -> Result<()>;
    /// The forward's result: each sequence's mean over its real tokens' rows of `x`, L2-normalised.
    fn mean_pool(&mut self, x: Slot) -> Result<()>;
}

impl Input<'_> {
    /// Checks the sizes against slots of `widths` floats per row; returns slot 0's width.
    pub fn check(&self, widths: &[usize]) -> Result<usize> {
        let width = *widths
            .first()
            .ok_or_else(|| Error::InvalidInput("a forward needs at least one slot".into()))?;
        let rows = self.batch * self.seq;
        if self.mask.len() != rows || self.rows.len() != rows * width {
            return Err(Error::InvalidInput(format!(
                "a forward of {}x{} tokens needs {rows} mask values and {} input values, got {} and {}",
                self.batch,
                self.seq,
                rows * width,
                self.mask.len(),
                self.rows.len()
            )));
        }
        Ok(width)
    }
}

/// The widths of a forward's slots, and the shape checks every backend makes before an operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Widths<'a>(pub &'a [usize]);

impl Widths<'_> {
    /// Floats per row of `s`.
    pub fn of(self, s: Slot) -> Result<usize> {
        self.0
            .get(s.0)
            .copied()
            .ok_or_else(|| Error::InvalidInput(format!("slot {} was not declared", s.0)))
    }

    /// That a layer `name` mapping `k` to `n` features reads `x` and writes `y`.
    pub fn linear(self, name: &str, k: usize, n: usize, x: Slot, y: Slot) -> Result<()> {
        let (wx, wy) = (self.of(x)?, self.of(y)?);
        if wx != k || wy != n {
            return Err(Error::InvalidInput(format!(
                "`{name}` maps {k} to {n} features; the slots hold {wx} and {wy}"
            )));
        }
        Ok(())
    }

    /// The features per head of attention with `heads` heads from `qkv` into `out`.
    pub fn head(self, heads: usize, qkv: Slot, out: Slot) -> Result<usize> {
        let (h, wq) = (self.of(out)?, self.of(qkv)?);
        if heads == 0 || h % heads != 0 || wq != 3 * h {
            return Err(Error::InvalidInput(format!(
                "attention: {heads} heads over {h} features from rows of {wq}"
            )));
        }
        Ok(h / heads)
    }

    /// That a LayerNorm over `h` features adds `residual` to `x`.
    pub fn norm(self, h: usize, residual: Slot, x: Slot) -> Result<()> {
        if self.of(residual)? != h || self.of(x)? != h {
            return Err(Error::InvalidInput(format!(
                "a LayerNorm over {h} features on slots {} and {}",
                residual.0, x.0
            )));
        }
        Ok(())
    }
}
