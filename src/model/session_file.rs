//! The session model's file layout: every tensor's name and shape for a [`SessionConfig`], and the
//! writer that `vitrine train` (and the tests) use, so names and the quantization policy live in one place.

use std::collections::BTreeMap;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Tensor;

use super::gguf::{self, write_model};
use super::session::{SessionConfig, GAP_BUCKETS, KEY_SESSION_CONFIG};
use crate::error::{Error, Result};
use crate::history::event::EventKind;

/// What a tensor is, which decides how it is initialised and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A matmul weight `[out, in]`: quantized in the q8_0 file.
    Weight,
    /// A bias or LayerNorm shift: f32, initialised to 0.
    Zeros,
    /// A LayerNorm scale: f32, initialised to 1.
    Ones,
    /// A lookup table (event kinds, gaps, positions): f32.
    Table,
}

/// Every tensor of a model with `cfg`, in name order: `(name, shape, role)`.
pub fn tensor_specs(cfg: &SessionConfig) -> Vec<(String, Vec<usize>, Role)> {
    let mut v: Vec<(String, Vec<usize>, Role)> = Vec::new();
    let linear = |v: &mut Vec<_>, p: &str, out: usize, inp: usize| {
        v.push((format!("{p}.weight"), vec![out, inp], Role::Weight));
        v.push((format!("{p}.bias"), vec![out], Role::Zeros));
    };
    let norm = |v: &mut Vec<(String, Vec<usize>, Role)>, p: &str| {
        v.push((format!("{p}.weight"), vec![cfg.width], Role::Ones));
        v.push((format!("{p}.bias"), vec![cfg.width], Role::Zeros));
    };
    let w = cfg.width;
    linear(&mut v, "input", w, cfg.input_dims());
    v.push(("kind.weight".into(), vec![EventKind::COUNT, w], Role::Table));
    v.push(("gap.weight".into(), vec![GAP_BUCKETS, w], Role::Table));
    v.push(("pos.weight".into(), vec![cfg.max_len, w], Role::Table));
    for i in 0..cfg.layers {
        norm(&mut v, &format!("layers.{i}.ln1"));
        for n in ["q", "k", "v", "o"] {
            linear(&mut v, &format!("layers.{i}.{n}"), w, w);
        }
        norm(&mut v, &format!("layers.{i}.ln2"));
        linear(&mut v, &format!("layers.{i}.ff1"), cfg.ffn, w);
        linear(&mut v, &format!("layers.{i}.ff2"), w, cfg.ffn);
    }
    norm(&mut v, "ln_f");
    linear(&mut v, "out", cfg.out_dims, w);
    linear(&mut v, "item.lin", cfg.out_dims, cfg.dims);
    if cfg.adapter_hidden > 0 {
        linear(&mut v, "item.up", cfg.adapter_hidden, cfg.dims);
        linear(&mut v, "item.down", cfg.out_dims, cfg.adapter_hidden);
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Serialises f32 `tensors` (all of [`tensor_specs`]) as a session model file. With `weights` =
/// `Q8_0`, matmul weights are quantized (their inner dimensions must be multiples of 32); tables,
/// norms and biases always stay f32.
pub fn write_session_model(
    cfg: &SessionConfig,
    tensors: &BTreeMap<String, Tensor>,
    weights: GgmlDType,
    name: &str,
) -> Result<Vec<u8>> {
    let mut out = BTreeMap::new();
    for (tname, shape, role) in tensor_specs(cfg) {
        let t = tensors
            .get(&tname)
            .ok_or_else(|| Error::MissingTensor(tname.clone()))?;
        if t.dims() != shape.as_slice() {
            return Err(Error::TensorShape {
                name: tname,
                expected: shape,
                found: t.dims().to_vec(),
            });
        }
        let dtype = if role == Role::Weight {
            weights
        } else {
            GgmlDType::F32
        };
        out.insert(tname, QTensor::quantize(t, dtype)?);
    }
    let json = serde_json::to_string(cfg).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let variant = format!("{weights:?}").to_lowercase();
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("vitrine-session".into())),
        ("general.name", Value::String(name.into())),
        ("vitrine.variant", Value::String(variant)),
        (gguf::KEY_FORMAT_VERSION, Value::U32(gguf::FORMAT_VERSION)),
        (KEY_SESSION_CONFIG, Value::String(json)),
    ];
    write_model(meta, &out)
}
