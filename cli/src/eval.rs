//! `vitrine eval`: leave-one-out full-ranking evaluation of popularity, item-kNN, the title words, the
//! text intent, the SDK's zero-shot default and a trained session model on a sequential data set (see
//! `../shared/data/README.md`); `--method all` prints one JSON line per method.

use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use vitrine::history::event::EventKind;
use vitrine::model::zero_shot::{ZeroShotCatalog, ZeroShotMix, ZeroShotStep};
use vitrine::model::{zero_shot_intent, SessionModel, SessionStep};

use crate::baselines::{popularity, ItemKnn, WordIndex};
use crate::data::{Dataset, VectorArgs};
use crate::metrics::{evaluate, Case, Metrics};

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum Method {
    Popularity,
    Itemknn,
    /// Title word overlap (TF-IDF cosine) with the newest history item: the session score's third term alone.
    Words,
    /// Text cosine to the recency-weighted mean of the history's vectors (the zero-shot intent alone).
    Content,
    /// The SDK's default forYou score without a session model (`vitrine::model::zero_shot`).
    ZeroShot,
    Session,
    /// Every method above, one JSON line each (`session` only with `--model`).
    All,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Popularity => "popularity",
            Method::Itemknn => "itemknn",
            Method::Words => "words",
            Method::Content => "content",
            Method::ZeroShot => "zero-shot",
            Method::Session => "session",
            Method::All => "all",
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Split {
    /// Target = each user's last item (the reported figures).
    Test,
    /// Target = the second-to-last item (model selection only).
    Valid,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Directory with sequential_data.txt and one *_items.tsv.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, value_enum)]
    pub method: Method,
    /// Session model (for `--method session`, and `all`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The zero-shot weights as JSON over the defaults, e.g. `{"lexical": 0.3}` (fields of
    /// `vitrine::model::zero_shot::ZeroShotMix`).
    #[arg(long)]
    pub zero_shot_mix: Option<String>,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[arg(long, value_enum, default_value = "test")]
    pub split: Split,
}

/// Training prefix of a sequence: everything but the validation and test targets.
pub fn train_prefix(seq: &[u32]) -> &[u32] {
    &seq[..seq.len().saturating_sub(2)]
}

/// The cases of a split: per user, the target is the last item (test) or the one before it (valid).
pub fn cases(ds: &Dataset, split: Split) -> Vec<Case<'_>> {
    cases_back(
        ds,
        match split {
            Split::Test => 1,
            Split::Valid => 2,
        },
    )
}

/// One case per user whose history before the target (`back` items from the end) is not empty.
pub fn cases_back(ds: &Dataset, back: usize) -> Vec<Case<'_>> {
    ds.seqs
        .iter()
        .zip(0..)
        .filter(|(s, _)| s.len() > back)
        .map(|(s, u)| Case {
            history: &s[..s.len() - back],
            target: s[s.len() - back],
            times: ds.times.as_ref().map(|t| &t[u][..s.len() - back]),
        })
        .collect()
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let ds = Dataset::load(&args.data)?;
    let cases = cases(&ds, args.split);
    let mix: ZeroShotMix = match &args.zero_shot_mix {
        Some(json) => serde_json::from_str(json).context("--zero-shot-mix: not a ZeroShotMix")?,
        None => ZeroShotMix::default(),
    };
    let methods: Vec<Method> = match args.method {
        Method::All => [
            Method::Popularity,
            Method::Itemknn,
            Method::Words,
            Method::Content,
            Method::ZeroShot,
            Method::Session,
        ]
        .into_iter()
        .filter(|m| *m != Method::Session || args.model.is_some())
        .collect(),
        m => vec![m],
    };
    // Loaded once for every method that needs them (the first load may encode the catalog).
    let mut vectors: Option<Vec<f32>> = None;
    for method in methods {
        let t0 = std::time::Instant::now();
        let needs_vectors = matches!(method, Method::Content | Method::ZeroShot | Method::Session);
        if needs_vectors && vectors.is_none() {
            vectors = Some(args.vectors.load(&ds)?);
        }
        let m = run_method(method, &ds, &cases, vectors.as_deref().unwrap_or(&[]), &mix, args)?;
        print_json(method.name(), &ds, &m, t0, args.split)?;
    }
    Ok(())
}

fn run_method(
    method: Method,
    ds: &Dataset,
    cases: &[Case],
    v: &[f32],
    mix: &ZeroShotMix,
    args: &EvalArgs,
) -> Result<Metrics> {
    let n = ds.n_items();
    Ok(match method {
        Method::Popularity => {
            let pop = popularity(ds);
            evaluate(cases, n, |_, c| {
                Ok(pop.iter().cycle().take(c.len() * n).copied().collect())
            })?
        }
        Method::Itemknn => {
            let knn = ItemKnn::new(ds);
            evaluate(cases, n, |_, c| {
                Ok(c.iter().flat_map(|c| knn.scores(c.history)).collect())
            })?
        }
        Method::Content => {
            let dims = v.len() / n.max(1);
            let items = Tensor::from_vec(v.to_vec(), (n, dims), &Device::Cpu)?;
            evaluate(cases, n, |_, c| {
                let q = c
                    .iter()
                    .flat_map(|c| {
                        let steps = purchase_steps(v, dims, c.history);
                        let q = zero_shot_intent(&steps);
                        if q.is_empty() {
                            vec![0.0; dims]
                        } else {
                            q
                        }
                    })
                    .collect::<Vec<f32>>();
                score(q, c.len(), &items)
            })?
        }
        Method::Words => {
            let index = WordIndex::new(&ds.texts);
            evaluate(cases, n, |_, c| {
                let mut s = vec![0.0; c.len() * n];
                for (case, row) in c.iter().zip(s.chunks_mut(n)) {
                    let newest = case.history.iter().map(|&i| ds.texts[i as usize].as_str());
                    index.add_overlap(row, newest, 0.0, 1.0);
                }
                Ok(s)
            })?
        }
        Method::ZeroShot => zero_shot_metrics(ds, v, mix, cases)?,
        Method::Session => {
            let path = args
                .model
                .as_ref()
                .context("--method session needs --model FILE.gguf")?;
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let model = SessionModel::from_gguf_bytes(&bytes)
                .with_context(|| format!("loading {}", path.display()))?;
            session_metrics(&model, v, &ds.texts, cases)?
        }
        Method::All => anyhow::bail!("`all` is a list of methods, not one"),
    })
}

/// The SDK's default ranking ([`ZeroShotCatalog`]) for every case.
pub fn zero_shot_metrics(
    ds: &Dataset,
    vectors: &[f32],
    mix: &ZeroShotMix,
    cases: &[Case],
) -> Result<Metrics> {
    let catalog = ZeroShotCatalog::new(vectors, &ds.texts, &ds.prices);
    evaluate(cases, ds.n_items(), |_, c| {
        let mut s = Vec::with_capacity(c.len() * ds.n_items());
        for case in c {
            s.extend(catalog.scores(mix, &zero_shot_steps(ds, vectors, case))?);
        }
        Ok(s)
    })
}

/// A case's history as the zero-shot score reads it: each item a purchase step with its title, price
/// and the time since the previous one where the data has them.
pub fn zero_shot_steps<'a>(ds: &'a Dataset, vectors: &'a [f32], case: &Case) -> Vec<ZeroShotStep<'a>> {
    let dims = vectors.len() / ds.n_items().max(1);
    purchase_steps(vectors, dims, case.history)
        .into_iter()
        .zip(case.history)
        .enumerate()
        .map(|(j, (mut step, &item))| {
            step.gap_secs = case
                .times
                .and_then(|t| (j > 0).then(|| (t[j] - t[j - 1]).max(0) as f32));
            ZeroShotStep {
                step,
                text: &ds.texts[item as usize],
                price: ds.prices[item as usize],
            }
        })
        .collect()
}

/// Scores of the session model for every case (used by `vitrine train` for the same numbers); `texts`
/// are the items' titles, for the word-overlap term.
pub fn session_metrics(
    model: &SessionModel,
    vectors: &[f32],
    texts: &[String],
    cases: &[Case],
) -> Result<Metrics> {
    let dims = model.dims();
    let n = vectors.len() / dims;
    let od = model.out_dims();
    let mix = model.content_mix();
    // `SessionModel::score` as one matmul: [intent, newest text] · [item vector, mix · text].
    let width = od + if mix == 0.0 { 0 } else { dims };
    let items = model.item_vectors(vectors)?;
    let mut rows = Vec::with_capacity(n * width);
    for i in 0..n {
        rows.extend_from_slice(&items[i * od..(i + 1) * od]);
        if mix != 0.0 {
            rows.extend(vectors[i * dims..(i + 1) * dims].iter().map(|x| x * mix));
        }
    }
    let items = Tensor::from_vec(rows, (n, width), &Device::Cpu)?;
    // Cases fan out on rayon: the model's forward runs on Vitrine's own kernels, which use no rayon (only
    // f32 layers over more than 32 steps reach candle's matmul, which would nest its own).
    let queries = cases
        .par_iter()
        .map(|c| {
            let mut q = model.intent(&purchase_steps(vectors, dims, c.history))?;
            if mix != 0.0 {
                let newest = *c.history.last().context("a case has a history")? as usize;
                q.extend_from_slice(&vectors[newest * dims..(newest + 1) * dims]);
            }
            Ok(q)
        })
        .collect::<Result<Vec<_>>>()?
        .concat();
    let words = (model.lexical_mix() != 0.0).then(|| WordIndex::new(texts));
    evaluate(cases, n, |first, c| {
        let mut s = score(
            queries[first * width..(first + c.len()) * width].to_vec(),
            c.len(),
            &items,
        )?;
        if let Some(words) = &words {
            for (case, row) in c.iter().zip(s.chunks_mut(n)) {
                let recent = &case.history[case.history.len().saturating_sub(model.max_len())..];
                let texts = recent.iter().map(|&i| texts[i as usize].as_str());
                words.add_overlap(row, texts, model.lexical_decay(), model.lexical_mix());
            }
        }
        Ok(s)
    })
}

/// Beauty's reviews stand for purchases and carry no usable time gaps: every step is a purchase with an
/// unknown gap.
pub fn purchase_steps<'a>(vectors: &'a [f32], dims: usize, history: &[u32]) -> Vec<SessionStep<'a>> {
    history
        .iter()
        .map(|&i| SessionStep {
            vector: &vectors[i as usize * dims..(i as usize + 1) * dims],
            kind: EventKind::Purchase,
            gap_secs: None,
        })
        .collect()
}

/// `rows × d` queries against `[n, d]` items: `rows × n` dot products.
pub fn score(queries: Vec<f32>, rows: usize, items: &Tensor) -> Result<Vec<f32>> {
    let d = items.dim(1)?;
    let q = Tensor::from_vec(queries, (rows, d), &Device::Cpu)?;
    Ok(q.matmul(&items.t()?)?.flatten_all()?.to_vec1::<f32>()?)
}

/// One JSON line; `seconds` since `t0`, the method's start (with the item vectors' loading, or encoding,
/// for the first method that needs them).
fn print_json(method: &str, ds: &Dataset, m: &Metrics, t0: std::time::Instant, split: Split) -> Result<()> {
    let mut v = serde_json::to_value(m)?;
    let o = v.as_object_mut().context("metrics serialise to an object")?;
    o.insert("method".into(), method.into());
    o.insert("data".into(), ds.name.clone().into());
    o.insert("split".into(), format!("{split:?}").to_lowercase().into());
    o.insert("items".into(), ds.n_items().into());
    o.insert(
        "seconds".into(),
        ((t0.elapsed().as_secs_f64() * 100.0).round() / 100.0).into(),
    );
    println!("{}", serde_json::to_string(&v)?);
    Ok(())
}
