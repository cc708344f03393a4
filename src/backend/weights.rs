//! A model's weights as the CPU keeps them, in one arena the model refers to by index ([`LinearId`],
//! [`NormId`]). A [`super::Device`] owns the arena, runs it on the CPU and mirrors it on the GPU at the
//! same indices, so a model names its weights once and never needs to know which backend holds what.

use super::cpu::{ops, Linear};
use crate::error::{Error, Result};

/// A linear layer (or side-by-side stack, see [`Stack`]) in a [`Weights`] arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearId(usize);

/// A LayerNorm in a [`Weights`] arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormId(usize);

/// LayerNorm parameters, kept in f32: its statistics are where low precision hurts most.
#[derive(Debug, Clone)]
pub struct Norm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub eps: f32,
}

impl Norm {
    /// `x ← LayerNorm(x + residual)` over rows of `weight.len()` values.
    pub fn forward(&self, x: &mut [f32], residual: Option<&[f32]>) -> Result<()> {
        ops::add_layer_norm(x, residual, &self.weight, &self.bias, self.eps)
    }
}

/// Linear layers that read the same input and write side by side into one output row (attention's
/// `[query | key | value]`), as one matrix when the kernels allow (see [`Linear::fuse`]), else as parts.
/// A single layer is a stack of one.
#[derive(Debug)]
pub struct Stack {
    name: String,
    parts: Vec<Linear>,
    out_dim: usize,
    in_dim: usize,
}

impl Stack {
    fn new(name: &str, parts: Vec<Linear>) -> Result<Self> {
        let in_dim = parts
            .first()
            .map(Linear::in_dim)
            .ok_or_else(|| Error::InvalidInput(format!("`{name}`: a linear stack needs a layer")))?;
        if parts.iter().any(|p| p.in_dim() != in_dim) {
            return Err(Error::InvalidInput(format!(
                "`{name}`: stacked layers must read the same input width"
            )));
        }
        let parts = match parts.len() {
            1 => parts,
            _ => match Linear::fuse(&parts.iter().collect::<Vec<_>>()) {
                Some(fused) => vec![fused],
                None => parts,
            },
        };
        Ok(Self {
            name: name.to_owned(),
            out_dim: parts.iter().map(Linear::out_dim).sum(),
            in_dim,
            parts,
        })
    }

    /// The tensor name (of the first part), for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layers, in output order: one when fused.
    pub fn parts(&self) -> &[Linear] {
        &self.parts
    }

    /// Output features of all parts together.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Input features.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    /// `rows` rows of `in_dim` values in, `rows` rows of `out_dim` out: each part's outputs in its
    /// columns.
    pub fn forward_rows(&self, x: &[f32], rows: usize) -> candle_core::Result<Vec<f32>> {
        if let [one] = self.parts.as_slice() {
            return one.forward_rows(x, rows);
        }
        let outs = self
            .parts
            .iter()
            .map(|l| l.forward_rows(x, rows))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mut y = Vec::with_capacity(rows * self.out_dim);
        for r in 0..rows {
            for (o, l) in outs.iter().zip(&self.parts) {
                y.extend_from_slice(&o[r * l.out_dim()..][..l.out_dim()]);
            }
        }
        Ok(y)
    }
}

/// Every linear layer and LayerNorm of a model, in the order the model added them.
#[derive(Debug, Default)]
pub struct Weights {
    linears: Vec<Stack>,
    norms: Vec<Norm>,
}

impl Weights {
    /// Adds layers reading the same input whose outputs sit side by side (one layer: a plain linear);
    /// `name` is for messages.
    pub fn add_linear(&mut self, name: &str, parts: Vec<Linear>) -> Result<LinearId> {
        self.linears.push(Stack::new(name, parts)?);
        Ok(LinearId(self.linears.len() - 1))
    }

    /// Adds a LayerNorm.
    pub fn add_norm(&mut self, norm: Norm) -> NormId {
        self.norms.push(norm);
        NormId(self.norms.len() - 1)
    }

    /// The stack behind `id` (ids come from this arena, so it exists).
    pub fn linear(&self, id: LinearId) -> Result<&Stack> {
        self.linears
            .get(id.0)
            .ok_or_else(|| unknown("linear layer", id.0))
    }

    /// The LayerNorm behind `id`.
    pub fn norm(&self, id: NormId) -> Result<&Norm> {
        self.norms.get(id.0).ok_or_else(|| unknown("LayerNorm", id.0))
    }

    /// Every linear stack, in id order (a mirror on another backend keeps the same order).
    pub fn linears(&self) -> &[Stack] {
        &self.linears
    }

    /// Every LayerNorm, in id order.
    pub fn norms(&self) -> &[Norm] {
        &self.norms
    }

    /// Position of `id` in [`Weights::linears`], for mirrors indexed the same way.
    pub fn linear_index(id: LinearId) -> usize {
        id.0
    }

    /// Position of `id` in [`Weights::norms`].
    pub fn norm_index(id: NormId) -> usize {
        id.0
    }
}

fn unknown(what: &str, i: usize) -> Error {
    Error::InvalidInput(format!(
        "{what} #{i} is not in this device's weights; run a model on the device it was loaded onto"
    ))
}
