//! The training step of `vitrine train`: the session model's forward pass, batched with right padding
//! and dropout, and its sampled-softmax loss over adapted item vectors (see `train.rs` for the loop).

use std::collections::BTreeMap;

use anyhow::Result;
use candle_core::{Device, Tensor, Var, D};
use rand::Rng;
use vitrine::history::event::EventKind;
use vitrine::model::session::SessionConfig;

pub(crate) struct Trainer<'a> {
    pub(crate) cfg: SessionConfig,
    pub(crate) vars: BTreeMap<String, Var>,
    /// `[n_items + 1, dims]`: the text vectors plus a zero row that padding indexes.
    pub(crate) items: Tensor,
    pub(crate) n_items: usize,
    pub(crate) temperature: f64,
    pub(crate) dropout: f32,
    pub(crate) negatives: usize,
    /// Loss weight of a target `d` steps before the end of its prefix: `recent_decay^d` (1 = uniform).
    pub(crate) recent_decay: f64,
    pub(crate) rng: &'a mut rand::rngs::StdRng,
}

impl Trainer<'_> {
    fn v(&self, name: &str) -> &Tensor {
        self.vars[name].as_tensor()
    }

    fn linear(&self, p: &str, x: &Tensor) -> candle_core::Result<Tensor> {
        x.broadcast_matmul(&self.v(&format!("{p}.weight")).t()?)?
            .broadcast_add(self.v(&format!("{p}.bias")))
    }

    /// candle_nn's LayerNorm written in plain tensor ops (differentiable); the SDK's reader runs
    /// `backend::cpu::ops::add_layer_norm` on slices, and the parity test below holds the two together.
    fn norm(&self, p: &str, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm_slow(
            x,
            self.v(&format!("{p}.weight")),
            self.v(&format!("{p}.bias")),
            self.cfg.layer_norm_eps as f32,
        )
    }

    fn drop(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.dropout <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.dropout;
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        x * Tensor::from_vec(mask, x.shape(), x.device())?
    }

    /// The same computation as `SessionModel::forward`, batched `[b, t]` with right padding (causal
    /// attention keeps real positions from seeing it) and dropout.
    /// `source` holds one input row per candidate plus a zero padding row, which `ids` index.
    fn intents(&mut self, ids: &Tensor, source: &Tensor, b: usize, t: usize) -> candle_core::Result<Tensor> {
        let (w, heads) = (self.cfg.width, self.cfg.heads);
        let hd = w / heads;
        let x = source.index_select(&ids.flatten_all()?, 0)?;
        let x = self.linear("input", &x)?.reshape((b, t, w))?;
        let offset =
            (self.v("kind.weight").get(EventKind::Purchase as usize)? + self.v("gap.weight").get(0)?)?;
        let pos = self.v("pos.weight").narrow(0, 0, t)?.broadcast_add(&offset)?;
        let mut h = x.broadcast_add(&pos)?;
        h = self.drop(&h)?;
        let mask: Vec<f32> = (0..t * t)
            .map(|i| if i % t > i / t { f32::NEG_INFINITY } else { 0.0 })
            .collect();
        let mask = Tensor::from_vec(mask, (t, t), &Device::Cpu)?;
        for l in 0..self.cfg.layers {
            let p = |n: &str| format!("layers.{l}.{n}");
            let a = self.norm(&p("ln1"), &h)?;
            let split = |x: Tensor| x.reshape((b, t, heads, hd))?.transpose(1, 2)?.contiguous();
            let q = split(self.linear(&p("q"), &a)?)?;
            let k = split(self.linear(&p("k"), &a)?)?;
            let v = split(self.linear(&p("v"), &a)?)?;
            let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(&mask)?;
            let max = scores.max_keepdim(D::Minus1)?.detach();
            let e = scores.broadcast_sub(&max)?.exp()?;
            let att = e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?;
            let ctx = att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, w))?;
            let o = self.linear(&p("o"), &ctx)?;
            h = (h + self.drop(&o)?)?;
            let f = self.linear(&p("ff1"), &self.norm(&p("ln2"), &h)?)?.gelu_erf()?;
            let f = self.linear(&p("ff2"), &f)?;
            h = (h + self.drop(&f)?)?;
        }
        let out = self.linear("out", &self.norm("ln_f", &h)?)?;
        self.l2(out.reshape((b * t, self.cfg.out_dims))?)
    }

    fn l2(&self, x: Tensor) -> candle_core::Result<Tensor> {
        if !self.cfg.normalize {
            return Ok(x);
        }
        let n = (x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()? + 1e-12)?;
        x.broadcast_div(&n)
    }

    /// The item side of `rows` (indices into the text vectors).
    fn item_side(&self, rows: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.items.index_select(rows, 0)?;
        let mut y = self.linear("item.lin", &x)?;
        if self.cfg.adapter_hidden > 0 {
            y = (y + self.linear("item.down", &self.linear("item.up", &x)?.gelu_erf()?)?)?;
        }
        self.l2(y)
    }

    pub(crate) fn loss(&mut self, batch: &[&[u32]]) -> candle_core::Result<Tensor> {
        let t = batch.iter().map(|s| s.len() - 1).max().unwrap_or(1);
        let b = batch.len();
        let n = self.n_items;
        // The softmax runs over `cands`: every item (full) or the batch's items plus shared negatives.
        let cands: Vec<u32> = if self.negatives == 0 || self.negatives >= n {
            (0..n as u32).collect()
        } else {
            let mut c: Vec<u32> = batch.iter().flat_map(|s| s.iter().copied()).collect();
            c.extend((0..self.negatives).map(|_| self.rng.random_range(0..n as u32)));
            c.sort_unstable();
            c.dedup();
            c
        };
        let mut local = vec![u32::MAX; n];
        for (j, &i) in cands.iter().enumerate() {
            local[i as usize] = j as u32;
        }
        let pad = cands.len() as u32;
        let (mut ids, mut pos, mut targets) = (vec![pad; b * t], Vec::new(), Vec::new());
        let mut weights = Vec::new();
        for (r, s) in batch.iter().enumerate() {
            for i in 0..s.len() - 1 {
                ids[r * t + i] = local[s[i] as usize];
                pos.push((r * t + i) as u32);
                targets.push(local[s[i + 1] as usize]);
                weights.push(self.recent_decay.powi((s.len() - 2 - i) as i32) as f32);
            }
        }
        let dev = Device::Cpu;
        let mut rows = cands;
        rows.push(n as u32); // the zero row of `items`
        let rows = Tensor::from_vec(rows, pad as usize + 1, &dev)?;
        let g = self.item_side(&rows.narrow(0, 0, pad as usize)?)?;
        let source = if self.cfg.tie_input {
            Tensor::cat(&[&g, &g.zeros_like()?.narrow(0, 0, 1)?], 0)?
        } else {
            self.items.index_select(&rows, 0)?
        };
        let ids = Tensor::from_vec(ids, (b, t), &dev)?;
        let q = self.intents(&ids, &source, b, t)?;
        let q = q.index_select(&Tensor::from_vec(pos, targets.len(), &dev)?, 0)?;
        let logits = (q.matmul(&g.t()?)? / self.temperature)?;
        let n_t = targets.len();
        if self.recent_decay == 1.0 {
            // candle's own loss: the exact operations earlier models were trained with (bit-reproducible).
            return candle_nn::loss::cross_entropy(&logits, &Tensor::from_vec(targets, n_t, &dev)?);
        }
        let targets = Tensor::from_vec(targets, (n_t, 1), &dev)?;
        let nll = candle_nn::ops::log_softmax(&logits, D::Minus1)?
            .gather(&targets, 1)?
            .squeeze(1)?
            .neg()?;
        // The weighted mean of the targets' negative log-likelihoods.
        let total: f32 = weights.iter().sum();
        (nll * Tensor::from_vec(weights, n_t, &dev)?)?.sum_all()? / total as f64
    }

    /// Sets every variable to `tensors` (from [`Self::tensors`]): a later phase starts from the best.
    pub(crate) fn set(&self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        for (name, var) in &self.vars {
            if let Some(t) = tensors.get(name) {
                var.set(t)?;
            }
        }
        Ok(())
    }

    pub(crate) fn tensors(&self) -> Result<BTreeMap<String, Tensor>> {
        self.vars
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().detach().copy()?)))
            .collect()
    }
}

/// The trainer's forward and the SDK's must be one function of the weights: a model is trained here and
/// served there. Checked on random weights, both input modes, against the SDK reading the written file.
#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::GgmlDType;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    use vitrine::model::session_file::{tensor_specs, write_session_model, Role};
    use vitrine::{SessionModel, SessionStep};

    fn config(tie_input: bool) -> SessionConfig {
        SessionConfig {
            dims: 24,
            width: 16,
            layers: 2,
            heads: 2,
            ffn: 32,
            max_len: 6,
            out_dims: 16,
            adapter_hidden: 8,
            normalize: true,
            tie_input,
            layer_norm_eps: 1e-5,
            content_mix: 0.0,
            lexical_mix: 0.0,
            lexical_decay: 0.0,
        }
    }

    #[test]
    fn trainer_and_sdk_compute_the_same_intents_and_item_vectors() {
        for tie_input in [false, true] {
            let cfg = config(tie_input);
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let normal = Normal::new(0.0f32, 0.4).unwrap();
            let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| normal.sample(&mut rng)).collect() };
            let mut vars = BTreeMap::new();
            for (name, shape, role) in tensor_specs(&cfg) {
                let n: usize = shape.iter().product();
                let mut vals = draw(n);
                if role == Role::Ones {
                    vals.iter_mut().for_each(|v| *v += 1.0);
                }
                let t = Tensor::from_vec(vals, shape, &Device::Cpu).unwrap();
                vars.insert(name, Var::from_tensor(&t).unwrap());
            }
            let n_items = 5;
            let vectors = draw(n_items * cfg.dims);
            let mut padded = vectors.clone();
            padded.extend(std::iter::repeat_n(0.0, cfg.dims));
            let items = Tensor::from_vec(padded, (n_items + 1, cfg.dims), &Device::Cpu).unwrap();
            let mut train_rng = rand::rngs::StdRng::seed_from_u64(1);
            let mut tr = Trainer {
                cfg: cfg.clone(),
                vars,
                items,
                n_items,
                temperature: 1.0,
                dropout: 0.0,
                negatives: 0,
                recent_decay: 1.0,
                rng: &mut train_rng,
            };
            // One session of four items, as training reads it: the rows `ids` index in `source`.
            let seq = [3u32, 0, 4, 1];
            let all = Tensor::arange(0u32, n_items as u32 + 1, &Device::Cpu).unwrap();
            let source = if cfg.tie_input {
                let g = tr.item_side(&all.narrow(0, 0, n_items).unwrap()).unwrap();
                Tensor::cat(&[&g, &g.zeros_like().unwrap().narrow(0, 0, 1).unwrap()], 0).unwrap()
            } else {
                tr.items.clone()
            };
            let ids = Tensor::from_vec(seq.to_vec(), (1, seq.len()), &Device::Cpu).unwrap();
            let want = tr
                .intents(&ids, &source, 1, seq.len())
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            let want_items = tr.item_side(&all.narrow(0, 0, n_items).unwrap()).unwrap();
            let want_items = want_items.flatten_all().unwrap().to_vec1::<f32>().unwrap();

            let bytes = write_session_model(&cfg, &tr.tensors().unwrap(), GgmlDType::F32, "t").unwrap();
            let model = SessionModel::from_gguf_bytes(&bytes).unwrap();
            // Training data are purchases with unknown gaps: the trainer's fixed kind and gap rows.
            let steps: Vec<SessionStep> = seq
                .iter()
                .map(|&i| SessionStep {
                    vector: &vectors[i as usize * cfg.dims..][..cfg.dims],
                    kind: EventKind::Purchase,
                    gap_secs: None,
                })
                .collect();
            let got = model.intent_per_step(&steps).unwrap();
            let got_items = model.item_vectors(&vectors).unwrap();
            let diff =
                |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                // Same f32 operations in another order (batched vs one sequence): 1e-5 on unit vectors.
                assert!(diff(g, w) < 1e-5, "tie_input {tie_input}: {g:?} vs {w:?}");
            }
            assert_eq!(got_items.len(), want_items.len());
            assert!(diff(&got_items, &want_items) < 1e-5, "tie_input {tie_input}");
        }
    }
}
