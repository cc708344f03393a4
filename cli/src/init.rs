//! How `vitrine train` starts: every tensor fresh, or loaded from an `--init` model file, where a
//! narrower hidden layer is grown into the configured width without changing what the model computes.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor, Var};
use rand_distr::{Distribution, Normal};
use vitrine::model::gguf::ModelFile;
use vitrine::model::session::{SessionConfig, KEY_SESSION_CONFIG};
use vitrine::model::session_file::{tensor_specs, Role};

/// Every tensor of a `cfg` model as a variable, and those that train (all but the event-kind and
/// time-gap tables). `init` (read from `path`) supplies the tensors it has.
pub(crate) fn initial_vars(
    cfg: &SessionConfig,
    init: Option<&ModelFile>,
    path: Option<&Path>,
    rng: &mut rand::rngs::StdRng,
) -> Result<(BTreeMap<String, Var>, Vec<Var>)> {
    let mut vars = BTreeMap::new();
    let mut trainable = Vec::new();
    if let Some(file) = init {
        check_init(file, cfg)?;
    }
    let (mut resumed, mut grown) = (0, 0);
    for (name, shape, role) in tensor_specs(cfg) {
        // Tensors loaded as they are draw nothing from the RNG, so resumed runs keep their batch order
        // and dropout (grown ones draw for their new units).
        let loaded = match init {
            None => None,
            Some(file) => match file.f32(&name, &shape) {
                Ok(t) => {
                    resumed += 1;
                    Some(t.flatten_all()?.to_vec1()?)
                }
                Err(vitrine::Error::MissingTensor(_)) => None,
                Err(vitrine::Error::TensorShape { found, .. }) if growable(&name, &found, &shape) => {
                    grown += 1;
                    let old: Vec<f32> = file.f32(&name, &found)?.flatten_all()?.to_vec1()?;
                    let mut vals = fresh(&name, &shape, role, rng)?;
                    embed(&mut vals, &shape, &old, &found);
                    Some(vals)
                }
                Err(e) => return Err(e).context("--init does not fit the configured architecture"),
            },
        };
        let vals = match loaded {
            Some(v) => v,
            None => fresh(&name, &shape, role, rng)?,
        };
        let var = Var::from_tensor(&Tensor::from_vec(vals, shape, &Device::Cpu)?)?;
        // Kind and gap tables stay zero (neutral): Beauty has one event kind and no timestamps, so
        // their rows could not be learned apart from the input bias.
        if name != "kind.weight" && name != "gap.weight" {
            trainable.push(var.clone());
        }
        vars.insert(name, var);
    }
    if let Some(p) = path {
        if resumed == 0 {
            bail!("--init {}: no tensor of a session model", p.display());
        }
        eprintln!(
            "{resumed} tensors from {}, {grown} grown, the rest initialised",
            p.display()
        );
    }
    Ok((vars, trainable))
}

/// Settings that shapes cannot reveal must match the `--init` file's (its `layers` may be fewer: growing).
fn check_init(file: &ModelFile, cfg: &SessionConfig) -> Result<()> {
    let json = file
        .string(KEY_SESSION_CONFIG)
        .context("--init: not a session model")?;
    let old: SessionConfig = serde_json::from_str(json).context("--init: its session config")?;
    let same = |o: &SessionConfig| {
        (
            o.dims,
            o.heads,
            o.max_len,
            o.normalize,
            o.tie_input,
            o.layer_norm_eps,
        )
    };
    // Fewer layers or no adapter MLP would silently drop trained tensors (narrower ones fail on shape).
    let drops = old.layers > cfg.layers || (old.adapter_hidden > 0 && cfg.adapter_hidden == 0);
    if same(&old) != same(cfg) || drops {
        bail!("--init was trained as {old:?}; this run asks for {cfg:?}");
    }
    Ok(())
}

fn zero_init(name: &str) -> bool {
    name.ends_with(".o.weight") || name.ends_with(".ff2.weight") || name == "item.down.weight"
}

/// A tensor's starting values when it is not loaded from `--init`.
fn fresh(name: &str, shape: &[usize], role: Role, rng: &mut rand::rngs::StdRng) -> Result<Vec<f32>> {
    let count: usize = shape.iter().product();
    Ok(match role {
        // Residual branches and the adapter's MLP start at zero, the input and output projections at
        // the identity: the untrained model scores by the (randomly projected) last item's text
        // similarity, a sensible start that saves epochs on this small machine.
        Role::Weight if zero_init(name) => vec![0.0; count],
        Role::Weight if (name == "input.weight" || name == "out.weight") && shape[0] == shape[1] => (0
            ..count)
            .map(|i| if i / shape[1] == i % shape[1] { 1.0 } else { 0.0 })
            .collect(),
        Role::Weight => {
            let std = (1.0 / shape[1] as f32).sqrt();
            let d = Normal::new(0.0, std).context("init")?;
            (0..count).map(|_| d.sample(rng)).collect()
        }
        Role::Table if name == "pos.weight" => {
            let d = Normal::new(0.0, 0.02).context("init")?;
            (0..count).map(|_| d.sample(rng)).collect()
        }
        Role::Ones => vec![1.0; count],
        Role::Zeros | Role::Table => vec![0.0; count],
    })
}

/// Whether an `--init` tensor of shape `old` can be grown into `new` without changing what the model
/// computes: a wider hidden layer of the item adapter or of a feed-forward block. The added units'
/// input rows start random and their output columns at zero (`zero_init`), so they add nothing until
/// trained.
fn growable(name: &str, old: &[usize], new: &[usize]) -> bool {
    let hidden_out = name.starts_with("item.up.") || name.contains(".ff1.");
    let hidden_in = name == "item.down.weight" || name.ends_with(".ff2.weight");
    let fits = old.len() == new.len() && old.iter().zip(new).all(|(o, n)| o <= n);
    match (old, new) {
        // Rows (outputs) grow: `[h, in]` weights and `[h]` biases.
        ([_, oi], [_, ni]) if hidden_out => fits && oi == ni,
        ([_], [_]) if hidden_out => fits,
        // Columns (inputs) grow: `[out, h]` weights.
        ([oo, _], [no, _]) if hidden_in => fits && oo == no,
        _ => false,
    }
}

/// Copies `old` (row-major, shape `old_shape`) into the leading rows and columns of `vals`.
fn embed(vals: &mut [f32], shape: &[usize], old: &[f32], old_shape: &[usize]) {
    let (cols, old_cols) = (
        shape.get(1).copied().unwrap_or(1),
        old_shape.get(1).copied().unwrap_or(1),
    );
    for (r, row) in old.chunks(old_cols).enumerate() {
        vals[r * cols..r * cols + old_cols].copy_from_slice(row);
    }
}
