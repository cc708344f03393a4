//! Sequential recommendation data sets (`sequential_data.txt` + one `*_items.tsv`, optionally
//! `timestamps.txt`) and their item text vectors, encoded once per encoder and cached.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use vitrine::catalog::{Catalog, Precision};
use vitrine::model::Role;
use vitrine::Encoder;

/// Users' item sequences (oldest first) over items indexed `0..n_items()` in `*_items.tsv` order.
pub struct Dataset {
    pub name: String,
    /// The `item_id` column, per item index.
    pub item_ids: Vec<String>,
    /// What gets encoded per item: the title, or the asin where the title is empty (see [`Dataset::load`]).
    pub texts: Vec<String>,
    /// The `price` column, per item (all `None` without it).
    pub prices: Vec<Option<f32>>,
    pub seqs: Vec<Vec<u32>>,
    /// Unix seconds of each interaction, per user, from `timestamps.txt` (same lines as
    /// `sequential_data.txt`); `None` without the file.
    pub times: Option<Vec<Vec<i64>>>,
}

impl Dataset {
    /// Reads `dir/sequential_data.txt` (`user item item …`) and the one `dir/*_items.tsv`
    /// (header `item_id<TAB>asin<TAB>title`; `asin` and `price` columns are optional). Items without a
    /// title are encoded as their asin (else their id): a meaningless but distinct text, so they keep
    /// distinct vectors (7 of Beauty's 12,101 items). `dir/timestamps.txt`, when present, gives each
    /// interaction's time (`user secs secs …`, line for line).
    pub fn load(dir: &Path) -> Result<Self> {
        let tsvs: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("_items.tsv"))
            .collect();
        let [tsv] = tsvs.as_slice() else {
            bail!(
                "{}: expected exactly one *_items.tsv, found {}",
                dir.display(),
                tsvs.len()
            );
        };
        let text = std::fs::read_to_string(tsv).with_context(|| format!("reading {}", tsv.display()))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
        let col = |n: &str| header.iter().position(|h| h.trim() == n);
        let (Some(ci), Some(ct)) = (col("item_id"), col("title")) else {
            bail!("{}: header must name item_id and title", tsv.display());
        };
        let (ca, cp) = (col("asin").unwrap_or(ci), col("price"));
        let (mut item_ids, mut texts, mut prices) = (Vec::new(), Vec::new(), Vec::new());
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            let get = |i: usize| f.get(i).map(|s| s.trim()).unwrap_or("");
            let title = if get(ct).is_empty() { get(ca) } else { get(ct) };
            item_ids.push(get(ci).to_string());
            texts.push(title.to_string());
            prices.push(cp.and_then(|c| get(c).parse::<f32>().ok()).filter(|p| *p > 0.0));
        }
        let index: HashMap<&str, u32> = item_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i as u32))
            .collect();
        let seq_path = dir.join("sequential_data.txt");
        let data =
            std::fs::read_to_string(&seq_path).with_context(|| format!("reading {}", seq_path.display()))?;
        let mut seqs = Vec::new();
        for (n, line) in data.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let seq = line
                .split_whitespace()
                .skip(1)
                .map(|id| {
                    index.get(id).copied().with_context(|| {
                        format!(
                            "{}:{}: item {id} is not in {}",
                            seq_path.display(),
                            n + 1,
                            tsv.display()
                        )
                    })
                })
                .collect::<Result<Vec<u32>>>()?;
            seqs.push(seq);
        }
        let times = read_times(&dir.join("timestamps.txt"), &seqs)?;
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            name,
            item_ids: item_ids.clone(),
            texts,
            prices,
            seqs,
            times,
        })
    }

    /// Drops every user's last item (and its time): `vitrine train` does so first, so that it cannot
    /// read a test target; the validation target becomes each user's last item.
    pub fn drop_last_items(&mut self) {
        self.seqs.iter_mut().for_each(|s| {
            s.pop();
        });
        for t in self.times.iter_mut().flatten() {
            t.pop();
        }
    }

    pub fn n_items(&self) -> usize {
        self.item_ids.len()
    }
}

/// `timestamps.txt` (if present) checked against the sequences' lengths.
fn read_times(path: &Path, seqs: &[Vec<u32>]) -> Result<Option<Vec<Vec<i64>>>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let times = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().skip(1).map(str::parse).collect())
        .collect::<Result<Vec<Vec<i64>>, _>>()
        .with_context(|| format!("{}: not whole seconds", path.display()))?;
    let fits = times.len() == seqs.len() && times.iter().zip(seqs).all(|(t, s)| t.len() == s.len());
    if !fits {
        bail!(
            "{}: its lines must match sequential_data.txt's, item for item",
            path.display()
        );
    }
    Ok(Some(times))
}

/// Where a command gets its item vectors: `--encoder`, `--vectors`, `--cache-dir` (shared by `eval` and
/// `train`, so both read the same cache).
#[derive(clap::Args)]
pub struct VectorArgs {
    /// Text encoder that makes the item vectors.
    #[arg(long, default_value = "models/minilm-l6-q8_0.gguf")]
    pub encoder: PathBuf,
    /// Item vector file to reuse (built there on first use); default: a cache under --cache-dir.
    #[arg(long)]
    pub vectors: Option<PathBuf>,
    #[arg(long, default_value = ".cache/vectors")]
    pub cache_dir: PathBuf,
}

impl VectorArgs {
    /// [`item_vectors`] for `ds` with these options.
    pub fn load(&self, ds: &Dataset) -> Result<Vec<f32>> {
        item_vectors(ds, &self.encoder, self.vectors.as_deref(), &self.cache_dir)
    }
}

/// The text vectors of every item (`n_items × dims`, row-major, unit length), from `path` if given and
/// present, else from the cache `cache_dir/{data}-{key}.vcat`, else encoded (and written to `path` or the
/// cache). The cache key hashes the encoder checksum and the texts: a new model or catalog misses it.
pub fn item_vectors(
    ds: &Dataset,
    encoder_path: &Path,
    path: Option<&Path>,
    cache_dir: &Path,
) -> Result<Vec<f32>> {
    let bytes = std::fs::read(encoder_path).with_context(|| format!("reading {}", encoder_path.display()))?;
    let enc =
        Encoder::from_gguf_bytes(&bytes).with_context(|| format!("loading {}", encoder_path.display()))?;
    let mut h = Sha256::new();
    h.update(enc.checksum().as_bytes());
    for (id, t) in ds.item_ids.iter().zip(&ds.texts) {
        h.update(id.as_bytes());
        h.update([0]);
        h.update(t.as_bytes());
        h.update([0]);
    }
    let key = hex::encode(&h.finalize()[..8]);
    let file = match path {
        Some(p) => p.to_path_buf(),
        None => cache_dir.join(format!("{}-{key}.vcat", ds.name)),
    };
    if file.exists() {
        let cat = Catalog::from_bytes(&std::fs::read(&file)?)
            .with_context(|| format!("loading {}", file.display()))?;
        if cat.model_checksum() != enc.checksum() {
            bail!(
                "{}: vectors were made by another encoder; delete the file to rebuild it",
                file.display()
            );
        }
        let mut out = Vec::with_capacity(ds.n_items() * cat.dims());
        for id in &ds.item_ids {
            out.extend_from_slice(
                cat.get(id)
                    .with_context(|| format!("{}: no vector for item {id}", file.display()))?,
            );
        }
        return Ok(out);
    }
    let t0 = std::time::Instant::now();
    let vectors = encode(&enc, &ds.texts)?;
    let mut cat = Catalog::new(enc.dims(), enc.checksum())?;
    for (id, v) in ds.item_ids.iter().zip(&vectors) {
        cat.push(id.clone(), v)?;
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Written aside and renamed into place: a concurrent reader (tests run in parallel) never sees half.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, cat.to_bytes(Precision::F32))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;
    eprintln!(
        "encoded {} items in {:.1}s into {}",
        ds.n_items(),
        t0.elapsed().as_secs_f64(),
        file.display()
    );
    Ok(vectors.concat())
}

/// Encodes titles (as passages) in batches of similar token length, batches in parallel.
fn encode(enc: &Encoder, titles: &[String]) -> Result<Vec<Vec<f32>>> {
    let texts: Vec<String> = titles
        .iter()
        .map(|t| enc.with_role(Role::Passage, t).into_owned())
        .collect();
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(texts.len());
    for (i, t) in texts.iter().enumerate() {
        order.push((enc.tokenize(t)?.len(), i));
    }
    order.sort_unstable();
    let chunks: Vec<&[(usize, usize)]> = order.chunks(32).collect();
    let done = chunks
        .par_iter()
        .map(|chunk| {
            let batch: Vec<&str> = chunk.iter().map(|&(_, i)| texts[i].as_str()).collect();
            Ok(chunk
                .iter()
                .map(|&(_, i)| i)
                .zip(enc.embed(&batch)?)
                .collect::<Vec<_>>())
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = vec![Vec::new(); texts.len()];
    for (i, v) in done.into_iter().flatten() {
        out[i] = v;
    }
    Ok(out)
}
