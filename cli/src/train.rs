//! `vitrine train`: fits the session model (`vitrine::model::session`) on users' training prefixes with
//! a softmax over items' adapted text vectors (sampled or full), selects epochs, phases and the score's
//! mixes by validation NDCG@10, and writes the q8_0 and f32 model files and a model card; it can resume
//! from (or grow) a model file.
//!
//! Leak-free by construction: each user's last item (the test target) is dropped as the data is read,
//! and the validation target (the new last) never enters a training batch: it only chooses. Deterministic
//! given `--seed` (our own seeded RNG for initialisation, batch order and dropout; candle's CPU kernels
//! are deterministic); phases end on validation, never on the clock.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use clap::{Args, ValueEnum};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use vitrine::model::gguf::ModelFile;
use vitrine::model::session::SessionConfig;
use vitrine::model::session_file::write_session_model;
use vitrine::model::SessionModel;

use crate::card::{write_card, PhaseLog};
use crate::data::{Dataset, VectorArgs};
use crate::eval::{cases_back, session_metrics};
use crate::init::initial_vars;
use crate::trainer::Trainer;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum Schedule {
    /// The default recipe: explore at `--lr` with sampled negatives until validation stops improving
    /// (at most `--epochs`), anneal along a cosine with the newest targets weighted, then try the full
    /// softmax; each phase starts from the best model so far and is kept only if it beats it.
    Auto,
    /// One phase: `--epochs` at `--lr` (cosine to `--lr-min` if given), `--patience`, `--negatives`,
    /// `--recent-decay`, `--temperature` as given (the staged runs of `regenerate-models.sh`).
    Fixed,
}

#[derive(Args)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: PathBuf,
    /// The q8_0 model; the f32 one goes beside it as `*-f32.gguf`.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[arg(long, value_enum, default_value = "auto")]
    pub schedule: Schedule,
    /// Most epochs of the first phase (`auto`) or of the run (`fixed`); 0 (with `--init`) keeps that
    /// model's weights and only chooses the score mixes.
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 128)]
    pub width: usize,
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    #[arg(long, default_value_t = 256)]
    pub ffn: usize,
    #[arg(long, default_value_t = 20)]
    pub max_len: usize,
    #[arg(long, default_value_t = 128)]
    pub out_dims: usize,
    #[arg(long, default_value_t = 512)]
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
    #[arg(long, value_delimiter = ',', default_value = "0,0.05,0.1,0.15,0.2,0.3")]
    pub content_mix: Vec<f32>,
    /// `lexical_mix` values tried on the validation split after `content_mix` (the best is kept, with
    /// its decay); "0" leaves the title word overlap out of the score.
    #[arg(long, value_delimiter = ',', default_value = "0,0.1,0.15,0.2,0.3")]
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

/// One phase of training: its epochs run from the best model so far, with a fresh optimiser.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    pub epochs: usize,
    pub lr: f64,
    /// Cosine decay per update from `lr` towards this.
    pub lr_min: Option<f64>,
    pub negatives: usize,
    pub recent_decay: f64,
    pub temperature: f64,
    /// Epochs without a better validation NDCG@10 before the phase ends.
    pub patience: usize,
}

/// The phases `args` ask for (see [`Schedule`]).
fn phases(args: &TrainArgs) -> Vec<Phase> {
    let fixed = Phase {
        name: "train",
        epochs: args.epochs,
        lr: args.lr,
        lr_min: args.lr_min,
        negatives: args.negatives,
        recent_decay: args.recent_decay,
        temperature: args.temperature,
        patience: args.patience,
    };
    if args.schedule == Schedule::Fixed {
        return vec![fixed];
    }
    // Measured on Beauty (BENCHMARKS.md): a constant rate finds the shape, a decaying one with the
    // newest targets weighted refines it (+10 %), the full softmax adds the last few per cent.
    vec![
        Phase {
            name: "explore",
            patience: 1,
            recent_decay: 1.0,
            lr_min: None,
            ..fixed.clone()
        },
        Phase {
            name: "anneal",
            epochs: 6,
            lr: args.lr / 2.0,
            lr_min: Some(1e-5),
            recent_decay: 0.7,
            patience: 2,
            ..fixed.clone()
        },
        Phase {
            name: "full softmax",
            epochs: 2,
            lr: args.lr / 6.0,
            lr_min: Some(1e-5),
            negatives: 0,
            recent_decay: 0.7,
            patience: 1,
            ..fixed
        },
    ]
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

fn check(args: &TrainArgs) -> Result<()> {
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
    Ok(())
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    check(args)?;
    // The test targets go before anything else sees the data: nothing below can read them.
    let mut ds = Dataset::load(&args.data)?;
    ds.drop_last_items();
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
    // Newest max_len + 1 items of each training prefix (all but the validation target): max_len
    // inputs, each predicting its successor.
    let seqs: Vec<&[u32]> = ds
        .seqs
        .iter()
        .map(|s| &s[..s.len().saturating_sub(1)])
        .filter(|p| p.len() >= 2)
        .map(|p| &p[p.len().saturating_sub(args.max_len + 1)..])
        .collect();
    let valid = cases_back(&ds, 1);
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
    let name = format!("session-{}", ds.name);
    let score = |tensors: &BTreeMap<String, Tensor>| -> Result<f64> {
        let bytes = write_session_model(&cfg, tensors, GgmlDType::F32, "session")?;
        Ok(session_metrics(
            &SessionModel::from_gguf_bytes(&bytes)?,
            &vectors,
            &ds.texts,
            &valid,
        )?
        .ndcg10)
    };
    let (mut best, mut best_tensors) = (-1.0f64, None);
    if args.epochs == 0 {
        // No training: the --init model as it is, to choose its score mixes (checked above).
        let tensors = tr.tensors()?;
        best = score(&tensors)?;
        eprintln!("--init weights, no mixes: valid ndcg@10 {best:.4}");
        best_tensors = Some(tensors);
    }
    let plan = if args.epochs == 0 {
        Vec::new()
    } else {
        phases(args)
    };
    let batches_per_epoch = seqs.len().div_ceil(args.batch.max(1));
    let progress = crate::card::progress(plan.iter().map(|p| p.epochs).sum::<usize>() * batches_per_epoch);
    let mut logs = Vec::new();
    for (k, phase) in plan.iter().enumerate() {
        if let (true, Some(t)) = (k > 0, &best_tensors) {
            tr.set(t)?;
        }
        let mut opt = AdamW::new(
            trainable.clone(),
            ParamsAdamW {
                lr: phase.lr,
                weight_decay: args.weight_decay,
                ..Default::default()
            },
        )?;
        (tr.negatives, tr.recent_decay, tr.temperature) =
            (phase.negatives, phase.recent_decay, phase.temperature);
        let mut log = PhaseLog::new(phase);
        let mut since_best = 0;
        for epoch in 1..=phase.epochs {
            let te = std::time::Instant::now();
            let loss = run_epoch(&mut tr, &mut opt, &seqs, args.batch, phase, epoch, &progress)?;
            let tensors = tr.tensors()?;
            let m = score(&tensors)?;
            progress.suspend(|| {
                eprintln!(
                    "epoch {epoch} ({}): loss {loss:.4}, valid ndcg@10 {m:.4} ({:.0}s, total {:.0}s)",
                    phase.name,
                    te.elapsed().as_secs_f64(),
                    t0.elapsed().as_secs_f64()
                )
            });
            log.epoch(m);
            if m > best {
                // Written at every improvement, so an interrupted run still leaves its best model.
                write_models(&cfg, &tensors, &args.out, &name)?;
                (best, best_tensors, since_best) = (m, Some(tensors), 0);
            } else {
                since_best += 1;
                if since_best >= phase.patience {
                    progress.inc(((phase.epochs - epoch) * batches_per_epoch) as u64);
                    break;
                }
            }
        }
        log.best_after = best;
        logs.push(log);
    }
    progress.finish_and_clear();
    let Some(tensors) = best_tensors else {
        return Ok(());
    };
    eprintln!(
        "best: valid ndcg@10 {best:.4}; {:.0}s; choosing the score's mixes",
        t0.elapsed().as_secs_f64()
    );
    let model = SessionModel::from_gguf_bytes(&write_session_model(&cfg, &tensors, GgmlDType::F32, &name)?)?;
    let (cfg, mixed) = crate::mixes::choose(
        &model,
        &vectors,
        &ds.texts,
        &valid,
        &args.content_mix,
        &args.lexical_mix,
        &args.lexical_decay,
    )?;
    eprintln!(
        "content mix {}, lexical mix {} decay {}: valid ndcg@10 {mixed:.4}",
        cfg.content_mix, cfg.lexical_mix, cfg.lexical_decay
    );
    write_models(&cfg, &tensors, &args.out, &name)?;
    write_card(
        args,
        &ds,
        &vectors,
        &valid,
        &cfg,
        &logs,
        t0.elapsed().as_secs_f64(),
    )?;
    eprintln!("{:.0}s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// One pass over the training sequences in shuffled batches of similar length; the mean loss.
fn run_epoch(
    tr: &mut Trainer,
    opt: &mut AdamW,
    seqs: &[&[u32]],
    batch: usize,
    phase: &Phase,
    epoch: usize,
    progress: &indicatif::ProgressBar,
) -> Result<f64> {
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.shuffle(tr.rng);
    // Similar lengths per batch waste little on padding; the shuffle varies who shares a batch.
    order.sort_by_key(|&i| seqs[i].len());
    let mut batches: Vec<Vec<&[u32]>> = order
        .chunks(batch.max(1))
        .map(|c| c.iter().map(|&i| seqs[i]).collect())
        .collect();
    batches.shuffle(tr.rng);
    let mut total = 0.0;
    for (step, batch) in batches.iter().enumerate() {
        if let Some(min) = phase.lr_min {
            let done = ((epoch - 1) * batches.len() + step) as f64 / (phase.epochs * batches.len()) as f64;
            opt.set_learning_rate(min + (phase.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * done).cos()));
        }
        let loss = tr.loss(batch)?;
        let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        total += value;
        opt.backward_step(&loss)?;
        progress.inc(1);
        progress.set_message(format!("{} epoch {epoch}, loss {value:.4}", phase.name));
    }
    Ok(total / batches.len().max(1) as f64)
}
