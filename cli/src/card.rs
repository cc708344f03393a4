//! What `vitrine train` reports: a progress bar with an ETA while it trains, and the model card it
//! writes beside the model file (data, recipe, validation figures against the zero-shot default and
//! item-kNN, so a store sees whether its own model is worth loading).

use std::fmt::Write as _;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vitrine::model::session::SessionConfig;
use vitrine::model::zero_shot::ZeroShotMix;
use vitrine::model::SessionModel;

use crate::baselines::ItemKnn;
use crate::data::Dataset;
use crate::eval::{session_metrics, zero_shot_metrics};
use crate::metrics::{evaluate, Case, Metrics};
use crate::train::{Phase, TrainArgs};

/// A bar over every planned batch on stderr (drawn only on a terminal); the ETA assumes every phase
/// runs all its epochs, so it is an upper bound when validation ends a phase early.
pub fn progress(batches: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(batches as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {percent:>3}% ETA {eta_precise} (at most) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// One phase as it ran.
pub struct PhaseLog {
    phase: Phase,
    valid: Vec<f64>,
    /// The best validation NDCG@10 after the phase (of any phase so far).
    pub best_after: f64,
}

impl PhaseLog {
    pub fn new(phase: &Phase) -> Self {
        Self {
            phase: phase.clone(),
            valid: Vec::new(),
            best_after: 0.0,
        }
    }

    pub fn epoch(&mut self, ndcg10: f64) {
        self.valid.push(ndcg10);
    }
}

fn row(name: &str, m: &Metrics) -> String {
    format!(
        "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
        m.hr10, m.ndcg10, m.hr20, m.ndcg20, m.mrr
    )
}

/// Writes `<out stem>.md` beside the model: `ds` is the data without its test targets, `valid` its
/// validation cases, `cfg` the written model's configuration.
pub fn write_card(
    args: &TrainArgs,
    ds: &Dataset,
    vectors: &[f32],
    valid: &[Case],
    cfg: &SessionConfig,
    logs: &[PhaseLog],
    seconds: f64,
) -> Result<()> {
    let model = SessionModel::from_gguf_bytes(
        &std::fs::read(&args.out).with_context(|| format!("reading {}", args.out.display()))?,
    )?;
    let ours = session_metrics(&model, vectors, &ds.texts, valid)?;
    let zero_shot = zero_shot_metrics(ds, vectors, &ZeroShotMix::default(), valid)?;
    let prefixes = ds.seqs.iter().map(|s| &s[..s.len().saturating_sub(1)]);
    let knn = ItemKnn::from_prefixes(ds.n_items(), prefixes.clone());
    let knn = evaluate(valid, ds.n_items(), |_, c| {
        Ok(c.iter().flat_map(|c| knn.scores(c.history)).collect())
    })?;
    let file = args
        .out
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let f32_path = args.out.with_file_name(file.replace(".gguf", "-f32.gguf"));
    let mut md = String::new();
    writeln!(md, "# Session model `{file}` (model card)\n")?;
    writeln!(
        md,
        "Trained by `vitrine train` on `{}`: {} users, {} items, {} training interactions (each \
         user's last item, the test target, is never read; the one before it is the validation target, \
         which only chooses epochs, phases and mixes). Command: `{}`.\n",
        args.data.display(),
        ds.seqs.len(),
        ds.n_items(),
        prefixes.map(<[u32]>::len).sum::<usize>(),
        std::env::args().collect::<Vec<_>>().join(" ")
    )?;
    writeln!(md, "## Validation (full ranking, history excluded)\n")?;
    writeln!(
        md,
        "| method | HR@10 | NDCG@10 | HR@20 | NDCG@20 | MRR |\n|---|---|---|---|---|---|"
    )?;
    md += &row(&format!("this model (`{file}`, q8_0)"), &ours);
    md += &row("zero-shot default (no model)", &zero_shot);
    md += &row("item-kNN on the same training data", &knn);
    let verdict = if ours.ndcg10 > zero_shot.ndcg10 && ours.ndcg10 > knn.ndcg10 {
        "It beats both on validation: load it with `sessionModel`."
    } else {
        "It does **not** beat both on validation: keep the zero-shot default."
    };
    writeln!(md, "\n{verdict}\n\n## Recipe\n")?;
    writeln!(md, "| phase | epochs run (most) | learning rate | negatives | newest-target weighting | valid NDCG@10 per epoch | best after |\n|---|---|---|---|---|---|---|")?;
    for l in logs {
        let p = &l.phase;
        let lr = match p.lr_min {
            Some(m) => format!("{} → {m}, cosine", p.lr),
            None => format!("{}", p.lr),
        };
        let neg = if p.negatives == 0 {
            "all items".into()
        } else {
            p.negatives.to_string()
        };
        let per: Vec<String> = l.valid.iter().map(|v| format!("{v:.4}")).collect();
        writeln!(
            md,
            "| {} | {} ({}) | {lr} | {neg} | {} | {} | {:.4} |",
            p.name,
            l.valid.len(),
            p.epochs,
            p.recent_decay,
            per.join(", "),
            l.best_after
        )?;
    }
    writeln!(
        md,
        "\nScore mixes chosen on validation: content {}, lexical {} (decay {}). Seed {}; \
         {seconds:.0} s on {} CPU threads. Architecture: `{}`.\n",
        cfg.content_mix,
        cfg.lexical_mix,
        cfg.lexical_decay,
        args.seed,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        serde_json::to_string(cfg)?
    )?;
    writeln!(
        md,
        "Files: `{file}` ({} bytes, q8_0: the one to ship), `{}` ({} bytes, f32 reference). The weights \
         derive from the training data: ship them only where its licence allows.",
        size(&args.out),
        f32_path
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default(),
        size(&f32_path)
    )?;
    let path = args.out.with_extension("md");
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "wrote {} (valid ndcg@10: model {:.4}, zero-shot {:.4}, item-kNN {:.4})",
        path.display(),
        ours.ndcg10,
        zero_shot.ndcg10,
        knn.ndcg10
    );
    Ok(())
}
