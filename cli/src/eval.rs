//! `vitrine eval`: leave-one-out full-ranking evaluation of popularity, item-kNN, the zero-shot content
//! intent and the trained session model on a sequential data set (see `../shared/data/README.md`).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use clap::{Args, ValueEnum};
use vitrine::history::event::EventKind;
use vitrine::model::lexical::Lexicon;
use vitrine::model::{zero_shot_intent, SessionModel, SessionStep};

use crate::data::{Dataset, VectorArgs};
use crate::metrics::{evaluate, Case, Metrics};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Method {
    Popularity,
    Itemknn,
    Content,
    /// Title word overlap (TF-IDF cosine) with the newest history item: the session score's third term alone.
    Words,
    Session,
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
    /// Session model (for `--method session`).
    #[arg(long, default_value = "models/session-beauty.gguf")]
    pub model: PathBuf,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[arg(long, value_enum, default_value = "test")]
    pub split: Split,
}

/// Training prefix of a sequence: everything but the validation and test targets.
pub fn train_prefix(seq: &[u32]) -> &[u32] {
    &seq[..seq.len().saturating_sub(2)]
}

/// One case per user whose history before the target is not empty.
pub fn cases(ds: &Dataset, split: Split) -> Vec<Case<'_>> {
    let back = match split {
        Split::Test => 1,
        Split::Valid => 2,
    };
    ds.seqs
        .iter()
        .filter(|s| s.len() > back)
        .map(|s| Case {
            history: &s[..s.len() - back],
            target: s[s.len() - back],
        })
        .collect()
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let ds = Dataset::load(&args.data)?;
    let cases = cases(&ds, args.split);
    let n = ds.n_items();
    let vectors = || args.vectors.load(&ds);
    let m = match args.method {
        Method::Popularity => {
            let pop = popularity(&ds);
            evaluate(&cases, n, |_, c| {
                Ok(pop.iter().cycle().take(c.len() * n).copied().collect())
            })?
        }
        Method::Itemknn => {
            let knn = ItemKnn::new(&ds);
            evaluate(&cases, n, |_, c| {
                Ok(c.iter().flat_map(|c| knn.scores(c.history)).collect())
            })?
        }
        Method::Content => {
            let v = vectors()?;
            let dims = v.len() / n.max(1);
            let items = Tensor::from_vec(v.clone(), (n, dims), &Device::Cpu)?;
            evaluate(&cases, n, |_, c| {
                let q = c
                    .iter()
                    .flat_map(|c| {
                        let steps = purchase_steps(&v, dims, c.history);
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
            evaluate(&cases, n, |_, c| {
                let mut s = vec![0.0; c.len() * n];
                for (case, row) in c.iter().zip(s.chunks_mut(n)) {
                    let newest = case.history.iter().map(|&i| ds.texts[i as usize].as_str());
                    index.add_overlap(row, newest, 0.0, 1.0);
                }
                Ok(s)
            })?
        }
        Method::Session => {
            let v = vectors()?;
            let bytes =
                std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
            let model = SessionModel::from_gguf_bytes(&bytes)
                .with_context(|| format!("loading {}", args.model.display()))?;
            session_metrics(&model, &v, &ds.texts, &cases)?
        }
    };
    print_json(
        &format!("{:?}", args.method).to_lowercase(),
        &ds,
        &m,
        t0,
        args.split,
    )
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
    // Intents one after another, outside rayon: candle's quantized matmul fans out on rayon itself, and
    // nesting it inside our parallel chunks measured 20x slower (q8_0: >10 min instead of 28 s).
    let mut queries = Vec::with_capacity(cases.len() * width);
    for c in cases {
        queries.extend(model.intent(&purchase_steps(vectors, dims, c.history))?);
        if mix != 0.0 {
            let newest = *c.history.last().context("a case has a history")? as usize;
            queries.extend_from_slice(&vectors[newest * dims..(newest + 1) * dims]);
        }
    }
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

/// Every item's title word vector, indexed by word: one session's overlap with all items costs the
/// postings of its own words only.
struct WordIndex {
    lexicon: Lexicon,
    /// Per word id: `(item, weight)` of the items whose title has it.
    postings: Vec<Vec<(u32, f32)>>,
}

impl WordIndex {
    fn new(texts: &[String]) -> Self {
        let lexicon = Lexicon::new(texts.iter().map(String::as_str));
        let mut postings = vec![Vec::new(); lexicon.vocabulary()];
        for (i, t) in texts.iter().enumerate() {
            for &(w, x) in lexicon.vector(t).entries() {
                postings[w as usize].push((i as u32, x));
            }
        }
        Self { lexicon, postings }
    }

    /// Adds `mix ·` the session's word overlap ([`Lexicon::session`]) to every item's score.
    fn add_overlap<'a>(
        &self,
        row: &mut [f32],
        texts: impl DoubleEndedIterator<Item = &'a str>,
        decay: f32,
        mix: f32,
    ) {
        for &(w, q) in self.lexicon.session(texts, decay).entries() {
            for &(item, x) in &self.postings[w as usize] {
                row[item as usize] += mix * q * x;
            }
        }
    }
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

/// Item counts over training prefixes only (no validation or test target leaks in).
pub fn popularity(ds: &Dataset) -> Vec<f32> {
    let mut pop = vec![0f32; ds.n_items()];
    for s in &ds.seqs {
        for &i in train_prefix(s) {
            pop[i as usize] += 1.0;
        }
    }
    pop
}

/// How many following items count as co-occurring with an item.
const KNN_WINDOW: usize = 3;

/// Item-to-item kNN from the last history item: how often `b` followed `a` within [`KNN_WINDOW`] steps
/// in users' training prefixes, cosine-normalised by both items' counts; ties (mostly items never seen
/// together) broken by popularity. Directed window 3 measured best of the variants tried (whole-prefix
/// co-occurrence, adjacent pairs, symmetric windows); see BENCHMARKS.md.
pub struct ItemKnn {
    neighbours: Vec<HashMap<u32, f32>>,
    pop: Vec<f32>,
}

impl ItemKnn {
    pub fn new(ds: &Dataset) -> Self {
        let pop = popularity(ds);
        let mut co: Vec<HashMap<u32, f32>> = vec![HashMap::new(); ds.n_items()];
        for s in &ds.seqs {
            let p = train_prefix(s);
            for (i, &a) in p.iter().enumerate() {
                for &b in &p[i + 1..(i + 1 + KNN_WINDOW).min(p.len())] {
                    if a != b {
                        *co[a as usize].entry(b).or_default() += 1.0;
                    }
                }
            }
        }
        for (a, row) in co.iter_mut().enumerate() {
            for (b, c) in row.iter_mut() {
                *c /= (pop[a] * pop[*b as usize]).sqrt().max(1.0);
            }
        }
        let max = pop.iter().copied().fold(1.0, f32::max);
        // Popularity as a tie-breaker well below any co-occurrence score's resolution.
        let pop = pop.iter().map(|p| p / max * 1e-6).collect();
        Self { neighbours: co, pop }
    }

    pub fn scores(&self, history: &[u32]) -> Vec<f32> {
        let mut s = self.pop.clone();
        if let Some(&last) = history.last() {
            for (&b, &c) in &self.neighbours[last as usize] {
                s[b as usize] += c;
            }
        }
        s
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_index_adds_each_items_dot_with_the_session_profile() {
        let texts: Vec<String> = [
            "OPI Nail Lacquer Red",
            "OPI Shatter Nail Polish",
            "Argan oil shampoo",
            "shampoo and conditioner set",
            "",
        ]
        .map(String::from)
        .to_vec();
        let index = WordIndex::new(&texts);
        let history = ["OPI Shatter Nail Polish", "Argan oil shampoo"];
        let mut row = vec![1.0; texts.len()];
        index.add_overlap(&mut row, history.iter().copied(), 0.5, 0.2);
        let profile = index.lexicon.session(history.iter().copied(), 0.5);
        for (t, got) in texts.iter().zip(&row) {
            let want = 1.0 + 0.2 * profile.dot(&index.lexicon.vector(t));
            assert!((got - want).abs() < 1e-6, "{t:?}: {got} vs {want}");
        }
        assert!(row[3] > 1.0 && row[0] > 1.0 && row[4] == 1.0);
    }
}
