//! `vitrine train`: fits the session model (`vitrine::model::session`) on users' training prefixes with
//! a softmax over items' adapted text vectors (sampled or full), selects the epoch by validation
//! NDCG@10, and writes the f32 and q8_0 model files; it can resume from (or grow) a model file.
//!
//! Leak-free by construction: per user the last two items (validation and test targets) never enter a
//! training batch; the validation target only picks the epoch. Deterministic given `--seed` (our own
//! seeded RNG for initialisation, batch order and dropout; candle's CPU kernels are deterministic).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use clap::Args;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use vitrine::model::gguf::ModelFile;
use vitrine::model::session::SessionConfig;
use vitrine::model::session_file::write_session_model;
use vitrine::model::SessionModel;

use crate::data::{Dataset, VectorArgs};
use crate::eval::{cases, session_metrics, train_prefix, Split};
use crate::init::initial_vars;
use crate::trainer::Trainer;

#[derive(Args)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: PathBuf,
    /// The q8_0 model; the f32 one goes beside it as `*-f32.gguf`.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub vectors: VectorArgs,
    /// Epochs; 0 (with `--init`) keeps that model's weights and only chooses the score mixes.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    #[arg(long, default_value_t = 2)]
    pub heads: usize,
    #[arg(long, default_value_t = 128)]
    pub ffn: usize,
    #[arg(long, default_value_t = 20)]
    pub max_len: usize,
    #[arg(long, default_value_t = 64)]
    pub out_dims: usize,
    #[arg(long, default_value_t = 256)]
    pub adapter_hidden: usize,
    /// Cosine scores with a softmax temperature (else raw dot products, temperature 1).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub normalize: bool,
    /// Feed steps through the item adapter (shared with the output side) instead of raw text vectors.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub tie_input: bool,
    #[arg(long, default_value_t = 0.07)]
    pub temperature: f64,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 0.2)]
    pub dropout: f32,
    /// Negatives per batch: this many uniformly drawn items, shared by every position, plus the batch's
    /// own inputs and targets; 0 = full softmax over every item (several times slower per update).
    #[arg(long, default_value_t = 2048)]
    pub negatives: usize,
    /// Users per batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// `content_mix` values tried on the validation split after training (the best is kept); "0"
    /// leaves the newest step's raw text similarity out of the score.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,0.05,0.1,0.15,0.2,0.25,0.3,0.4,0.5"
    )]
    pub content_mix: Vec<f32>,
    /// `lexical_mix` values tried on the validation split after `content_mix` (the best is kept, with
    /// its decay); "0" leaves the title word overlap out of the score.
    #[arg(long, value_delimiter = ',', default_value = "0,0.1,0.15,0.2,0.25,0.3")]
    pub lexical_mix: Vec<f32>,
    /// `lexical_decay` values tried with each nonzero `lexical_mix`: each older step's share of the
    /// word overlap relative to the next newer one (0: the newest step alone).
    #[arg(long, value_delimiter = ',', default_value = "0,0.3,0.6")]
    pub lexical_decay: Vec<f32>,
    /// Stop after this many epochs without a better validation NDCG@10.
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// Decay the learning rate along a cosine, per update, from `--lr` towards this value, which the
    /// schedule would reach one update after the last (constant `--lr` when absent).
    #[arg(long)]
    pub lr_min: Option<f64>,
    /// Start from this model file's tensors (an f32 `*-f32.gguf` keeps them exact): to train on, or to
    /// grow. Tensors the file lacks (e.g. an added layer) are initialised as usual; a shape that differs
    /// is an error.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Loss weight of a target `d` steps before the end of its training prefix: this to the power `d`.
    /// Below 1 it leans on each user's newest steps, the closest in time to what is predicted later.
    #[arg(long, default_value_t = 1.0)]
    pub recent_decay: f64,
}

fn write_models(
    cfg: &SessionConfig,
    tensors: &BTreeMap<String, Tensor>,
    out: &std::path::Path,
    name: &str,
) -> Result<()> {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let f32_path = out.with_file_name(format!("{stem}-f32.gguf"));
    for (path, dtype) in [(out, GgmlDType::Q8_0), (f32_path.as_path(), GgmlDType::F32)] {
        let bytes = write_session_model(cfg, tensors, dtype, name)?;
        std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    if !(args.recent_decay > 0.0 && args.recent_decay <= 1.0) {
        bail!("--recent-decay must be in (0, 1], got {}", args.recent_decay);
    }
    if args.lr_min.is_some_and(|m| !(0.0..=args.lr).contains(&m)) {
        bail!("--lr-min must be in [0, --lr]");
    }
    if args.epochs == 0 && args.init.is_none() {
        bail!("--epochs 0 only chooses the score mixes of an --init model");
    }
    if args.lexical_decay.iter().any(|d| !(0.0..=1.0).contains(d)) {
        bail!("--lexical-decay values must be in [0, 1]");
    }
    let ds = Dataset::load(&args.data)?;
    let vectors = args.vectors.load(&ds)?;
    let n = ds.n_items();
    let dims = vectors.len() / n.max(1);
    let cfg = SessionConfig {
        dims,
        width: args.width,
        layers: args.layers,
        heads: args.heads,
        ffn: args.ffn,
        max_len: args.max_len,
        out_dims: args.out_dims,
        adapter_hidden: args.adapter_hidden,
        normalize: args.normalize,
        tie_input: args.tie_input,
        layer_norm_eps: 1e-5,
        content_mix: 0.0,
        lexical_mix: 0.0,
        lexical_decay: 0.0,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let init_bytes = match &args.init {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let init = init_bytes.as_deref().map(ModelFile::read).transpose()?;
    let (vars, trainable) = initial_vars(&cfg, init.as_ref(), args.init.as_deref(), &mut rng)?;
    let mut padded = vectors.clone();
    padded.extend(std::iter::repeat_n(0.0, dims));
    let items = Tensor::from_vec(padded, (n + 1, dims), &Device::Cpu)?;
    let mut opt = AdamW::new(
        trainable,
        ParamsAdamW {
            lr: args.lr,
            weight_decay: args.weight_decay,
            ..Default::default()
        },
    )?;
    // Newest max_len + 1 items of each training prefix: max_len inputs, each predicting its successor.
    let seqs: Vec<&[u32]> = ds
        .seqs
        .iter()
        .map(|s| train_prefix(s))
        .filter(|p| p.len() >= 2)
        .map(|p| &p[p.len().saturating_sub(args.max_len + 1)..])
        .collect();
    let valid = cases(&ds, Split::Valid);
    let mut tr = Trainer {
        cfg: cfg.clone(),
        vars,
        items,
        n_items: n,
        temperature: args.temperature,
        dropout: args.dropout,
        negatives: args.negatives,
        recent_decay: args.recent_decay,
        rng: &mut rng,
    };
    let (mut best, mut best_epoch, mut best_tensors) = (-1.0f64, 0, None);
    if args.epochs == 0 {
        // No training: the --init model as it is, to choose its score mixes (checked above).
        let tensors = tr.tensors()?;
        let bytes = write_session_model(&cfg, &tensors, GgmlDType::F32, "session")?;
        best = session_metrics(
            &SessionModel::from_gguf_bytes(&bytes)?,
            &vectors,
            &ds.texts,
            &valid,
        )?
        .ndcg10;
        eprintln!("--init weights, no mixes: valid ndcg@10 {best:.4}");
        best_tensors = Some(tensors);
    }
    for epoch in 1..=args.epochs {
        let te = std::time::Instant::now();
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.shuffle(tr.rng);
        // Similar lengths per batch waste little on padding; the shuffle varies who shares a batch.
        order.sort_by_key(|&i| seqs[i].len());
        let mut batches: Vec<Vec<&[u32]>> = order
            .chunks(args.batch.max(1))
            .map(|c| c.iter().map(|&i| seqs[i]).collect())
            .collect();
        batches.shuffle(tr.rng);
        let mut total = 0.0;
        let mut step = 0;
        for batch in &batches {
            if let Some(min) = args.lr_min {
                let done = ((epoch - 1) * batches.len() + step) as f64 / (args.epochs * batches.len()) as f64;
                opt.set_learning_rate(
                    min + (args.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * done).cos()),
                );
            }
            let loss = tr.loss(batch)?;
            step += 1;
            if step % 20 == 0 {
                eprintln!(
                    "  step {step}: loss {:.4} ({:.0}s)",
                    loss.to_dtype(DType::F64)?.to_scalar::<f64>()?,
                    te.elapsed().as_secs_f64()
                );
            }
            total += loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            opt.backward_step(&loss)?;
        }
        let tensors = tr.tensors()?;
        let model =
            SessionModel::from_gguf_bytes(&write_session_model(&cfg, &tensors, GgmlDType::F32, "session")?)?;
        let m = session_metrics(&model, &vectors, &ds.texts, &valid)?;
        eprintln!(
            "epoch {epoch}: loss {:.4}, valid ndcg@10 {:.4} hr@10 {:.4} ({:.0}s, total {:.0}s)",
            total / batches.len() as f64,
            m.ndcg10,
            m.hr10,
            te.elapsed().as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
        if m.ndcg10 > best {
            // Written at every improvement, so an interrupted run still leaves its best model.
            write_models(&cfg, &tensors, &args.out, &format!("session-{}", ds.name))?;
            (best, best_epoch, best_tensors) = (m.ndcg10, epoch, Some(tensors));
        } else if epoch - best_epoch >= args.patience {
            break;
        }
    }
    eprintln!(
        "best epoch {best_epoch}: valid ndcg@10 {best:.4}; {:.0}s",
        t0.elapsed().as_secs_f64()
    );
    let Some(tensors) = best_tensors else {
        return Ok(());
    };
    let cfg = choose_mixes(args, cfg, &tensors, &vectors, &ds.texts, &valid, best)?;
    write_models(&cfg, &tensors, &args.out, &format!("session-{}", ds.name))?;
    eprintln!("{:.0}s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Chooses `content_mix`, then `lexical_mix` with its decay, on validation, like the epoch: a few
/// scalars, so the risk of fitting them is nil. `best` is the model's validation NDCG@10 without them.
fn choose_mixes(
    args: &TrainArgs,
    cfg: SessionConfig,
    tensors: &BTreeMap<String, Tensor>,
    vectors: &[f32],
    texts: &[String],
    valid: &[crate::metrics::Case],
    mut best: f64,
) -> Result<SessionConfig> {
    let ndcg = |cfg: &SessionConfig| -> Result<f64> {
        let bytes = write_session_model(cfg, tensors, GgmlDType::F32, "session")?;
        Ok(session_metrics(&SessionModel::from_gguf_bytes(&bytes)?, vectors, texts, valid)?.ndcg10)
    };
    let mut chosen = cfg;
    for &mix in args.content_mix.iter().filter(|m| **m != 0.0) {
        let c = SessionConfig {
            content_mix: mix,
            ..chosen.clone()
        };
        let m = ndcg(&c)?;
        eprintln!("content mix {mix}: valid ndcg@10 {m:.4}");
        if m > best {
            (best, chosen) = (m, c);
        }
    }
    let base = chosen.clone();
    for &mix in args.lexical_mix.iter().filter(|m| **m != 0.0) {
        for &decay in &args.lexical_decay {
            let c = SessionConfig {
                lexical_mix: mix,
                lexical_decay: decay,
                ..base.clone()
            };
            let m = ndcg(&c)?;
            eprintln!("lexical mix {mix} decay {decay}: valid ndcg@10 {m:.4}");
            if m > best {
                (best, chosen) = (m, c);
            }
        }
    }
    eprintln!(
        "content mix {}, lexical mix {} decay {}: valid ndcg@10 {best:.4}",
        chosen.content_mix, chosen.lexical_mix, chosen.lexical_decay
    );
    Ok(chosen)
}
