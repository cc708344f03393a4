//! A forward pass on the CPU: [`Ops`] executed at once on plain row-major f32 buffers, one per slot.

use crate::backend::ops::{Input, Ops, Slot, Widths};
use crate::backend::weights::{LinearId, NormId, Weights};
use crate::error::{Error, Result};

use super::ops;

/// Runs `record` (a model's forward) over `input` with slots of `widths` floats per row; returns the
/// pooled vectors of its [`Ops::mean_pool`].
pub fn forward(
    weights: &Weights,
    input: Input<'_>,
    widths: &[usize],
    record: &dyn Fn(&mut dyn Ops) -> Result<()>,
) -> Result<Vec<Vec<f32>>> {
    input.check(widths)?;
    // Slots other than the input are filled by the operation that first writes them.
    let mut slots = vec![Vec::new(); widths.len()];
    slots[0] = input.rows.to_vec();
    // Padding only exists in mixed-length batches; skipping the add keeps single texts cheaper.
    // Large but finite, as in Hugging Face: exp() of it is exactly 0 after the max shift.
    let additive = (!input.mask.iter().all(|&m| m == 1)).then(|| {
        input
            .mask
            .iter()
            .map(|&m| if m == 1 { 0.0 } else { -1e9 })
            .collect()
    });
    let mut cpu = CpuOps {
        weights,
        input,
        widths: Widths(widths),
        slots,
        additive,
        pooled: None,
    };
    record(&mut cpu)?;
    cpu.pooled
        .ok_or_else(|| Error::InvalidInput("the forward pass never pooled its output".into()))
}

struct CpuOps<'a> {
    weights: &'a Weights,
    input: Input<'a>,
    widths: Widths<'a>,
    slots: Vec<Vec<f32>>,
    /// The additive key mask of attention (0 or −1e9 per token), `None` when nothing is padded.
    additive: Option<Vec<f32>>,
    pooled: Option<Vec<Vec<f32>>>,
}

impl CpuOps<'_> {
    fn rows(&self) -> usize {
        self.input.batch * self.input.seq
    }

    fn width(&self, s: Slot) -> Result<usize> {
        self.widths.of(s)
    }

    /// A slot's values, once an operation has written all its rows.
    fn read(&self, s: Slot) -> Result<&[f32]> {
        let want = self.rows() * self.width(s)?;
        match &self.slots[s.0] {
            v if v.len() == want => Ok(v),
            _ => Err(Error::InvalidInput(format!(
                "slot {} is read before it is written",
                s.0
            ))),
        }
    }

    /// Moves a slot's buffer out (to write it while reading another); [`CpuOps::put`] returns it.
    fn take(&mut self, s: Slot) -> Result<Vec<f32>> {
        self.width(s)?;
        Ok(std::mem::take(&mut self.slots[s.0]))
    }

    fn put(&mut self, s: Slot, v: Vec<f32>) {
        self.slots[s.0] = v;
    }
}

impl Ops for CpuOps<'_> {
    fn linear(&mut self, w: LinearId, x: Slot, y: Slot) -> Result<()> {
        let w = self.weights.linear(w)?;
        self.widths.linear(w.name(), w.in_dim(), w.out_dim(), x, y)?;
        let out = w.forward_rows(self.read(x)?, self.rows())?;
        self.put(y, out);
        Ok(())
    }

    fn attention(&mut self, heads: usize, qkv: Slot, out: Slot) -> Result<()> {
        let h = heads * self.widths.head(heads, qkv, out)?;
        self.read(qkv)?;
        let mut ctx = self.take(out)?;
        ctx.clear();
        ctx.resize(self.rows() * h, 0.0);
        let (batch, seq) = (self.input.batch, self.input.seq);
        let mask = self.additive.as_deref();
        ops::attention(&self.slots[qkv.0], batch, seq, heads, h / heads, mask, &mut ctx)?;
        self.put(out, ctx);
        Ok(())
    }

    fn add_layer_norm(&mut self, norm: NormId, residual: Slot, x: Slot) -> Result<()> {
        let n = self.weights.norm(norm)?;
        self.widths.norm(n.weight.len(), residual, x)?;
        self.read(x)?;
        self.read(residual)?;
        let mut v = self.take(x)?;
        let done = n.forward(&mut v, Some(&self.slots[residual.0]));
        // Put back even on an error: the slot keeps its buffer (unchanged) either way.
        self.put(x, v);
        done
    }

    fn gelu(&mut self, x: Slot) -> Result<()> {
        self.read(x)?;
        ops::gelu_erf(&mut self.slots[x.0]);
        Ok(())
    }

    fn mean_pool(&mut self, x: Slot) -> Result<()> {
        let (h, hidden) = (self.width(x)?, self.read(x)?);
        let seq = self.input.seq;
        let pooled = self
            .input
            .mask
            .chunks_exact(seq.max(1))
            .enumerate()
            .map(|(row, mask)| {
                let mut v = vec![0f32; h];
                for (tok, _) in mask.iter().enumerate().filter(|&(_, &m)| m == 1) {
                    let state = &hidden[(row * seq + tok) * h..][..h];
                    v.iter_mut().zip(state).for_each(|(a, s)| *a += s);
                }
                // Mean then L2 norm equals L2 norm of the sum: the division by the count cancels.
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect();
        self.pooled = Some(pooled);
        Ok(())
    }
}
