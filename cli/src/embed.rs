//! `vitrine embed` and `vitrine embed-catalog`: texts to vectors with the same encoder the browser runs.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use vitrine::backend::select::{BackendChoice, DevicePreference};
use vitrine::catalog::{Catalog, Precision};
use vitrine::Encoder;

/// Loads a model file, with the path in the error.
pub fn load(model: &Path) -> Result<Encoder> {
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    Encoder::from_gguf_bytes(&bytes).with_context(|| format!("loading {}", model.display()))
}

/// Loads a model and, unless `pref` is the CPU, attaches a GPU to it; without one the encoder stays
/// on the CPU and its diagnostics say why.
pub fn load_on(model: &Path, pref: DevicePreference) -> Result<Encoder> {
    let enc = load(model)?;
    if pref == DevicePreference::Cpu {
        return Ok(enc);
    }
    // On failure the encoder stays on the CPU and its diagnostics say why.
    let _ = pollster::block_on(enc.device().start_gpu());
    Ok(enc)
}

fn report(choice: &BackendChoice) {
    let adapter = choice
        .adapter
        .as_deref()
        .map(|a| format!(", adapter {a}"))
        .unwrap_or_default();
    eprintln!("backend: {} ({}{adapter})", choice.backend, choice.reason);
}

/// One text per stdin line → one JSON array per stdout line, in order, `batch` lines per forward pass.
/// The backend is chosen for `pref` on the first batch, and reported (with any later fallback) on stderr.
pub fn embed_stdin(enc: &Encoder, batch: usize, pref: DevicePreference) -> Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut pending: Vec<String> = Vec::with_capacity(batch);
    let mut chosen: Option<BackendChoice> = None;
    let mut flush = |pending: &mut Vec<String>, out: &mut dyn Write| -> Result<()> {
        let refs: Vec<&str> = pending.iter().map(String::as_str).collect();
        if chosen.is_none() {
            let choice = pollster::block_on(enc.select_backend(pref, &refs));
            report(&choice);
            chosen = Some(choice);
        }
        let vectors = pollster::block_on(enc.embed_auto(&refs))?;
        let now = enc.device().diagnostics();
        if chosen.as_ref() != Some(&now) {
            report(&now);
            chosen = Some(now);
        }
        for v in vectors {
            serde_json::to_writer(&mut *out, &v)?;
            out.write_all(b"\n")?;
        }
        pending.clear();
        out.flush()?;
        Ok(())
    };
    for line in stdin.lines() {
        pending.push(line.context("reading stdin (expects UTF-8, one text per line)")?);
        if pending.len() >= batch {
            flush(&mut pending, &mut out)?;
        }
    }
    if !pending.is_empty() {
        flush(&mut pending, &mut out)?;
    }
    Ok(())
}

/// `(id, text)` pairs from a TSV (header naming `item_id`/`id` and `title`/`text` columns, or
/// headerless `id<TAB>text`) or a JSONL file (`{"id": …, "text"|"title": …}` per line).
pub fn read_catalog(path: &Path) -> Result<Vec<(String, String)>> {
    let data = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut items = Vec::new();
    match ext {
        "tsv" => {
            let mut lines = data
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .peekable();
            let mut cols = (0, 1);
            if let Some((_, first)) = lines.peek() {
                let header: Vec<&str> = first.split('\t').collect();
                let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim()));
                if let (Some(i), Some(t)) = (find(&["item_id", "id"]), find(&["title", "text"])) {
                    cols = (i, t);
                    lines.next();
                }
            }
            for (n, line) in lines {
                let f: Vec<&str> = line.split('\t').collect();
                match (f.get(cols.0), f.get(cols.1)) {
                    (Some(id), Some(text)) => items.push((id.to_string(), text.to_string())),
                    _ => bail!(
                        "{}:{}: expected at least {} tab-separated columns",
                        path.display(),
                        n + 1,
                        cols.0.max(cols.1) + 1
                    ),
                }
            }
        }
        "jsonl" => {
            for (n, line) in data.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line)
                    .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
                let id = match &v["id"] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(x) => x.to_string(),
                    _ => bail!("{}:{}: needs an \"id\" (string or number)", path.display(), n + 1),
                };
                let text = v["text"].as_str().or(v["title"].as_str());
                let text = text
                    .with_context(|| format!("{}:{}: needs \"text\" or \"title\"", path.display(), n + 1))?;
                items.push((id, text.to_string()));
            }
        }
        _ => bail!("{}: use a .tsv or .jsonl catalog", path.display()),
    }
    Ok(items)
}

/// Embeds a catalog into the binary format of [`vitrine::catalog`].
pub fn embed_catalog(
    enc: &Encoder,
    items: &[(String, String)],
    batch: usize,
    precision: Precision,
) -> Result<Vec<u8>> {
    // Batching texts of similar token length wastes little on padding; vectors do not depend on it.
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(items.len());
    for (i, (_, text)) in items.iter().enumerate() {
        order.push((enc.tokenize(text)?.len(), i));
    }
    order.sort_unstable();
    let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); items.len()];
    for chunk in order.chunks(batch.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(|&(_, i)| items[i].1.as_str()).collect();
        for (&(_, i), v) in chunk.iter().zip(enc.embed(&texts)?) {
            vectors[i] = v;
        }
    }
    let mut catalog = Catalog::new(enc.dims(), enc.checksum())?;
    for ((id, _), v) in items.iter().zip(&vectors) {
        catalog.push(id.clone(), v)?;
    }
    Ok(catalog.to_bytes(precision))
}
