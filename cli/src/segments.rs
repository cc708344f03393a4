//! `vitrine segments`: trains the on-device segment centroids (spherical k-means over the zero-shot
//! intents of real sessions) and writes the JSON the SDK loads beside the model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use vitrine::catalog::Catalog;
use vitrine::copy::{kmeans, Segments};
use vitrine::history::EventKind;
use vitrine::model::session::{zero_shot_intent, SessionStep};

/// Arguments of `vitrine segments`.
#[derive(clap::Args)]
pub struct SegmentsArgs {
    /// Catalog vectors (`vitrine embed-catalog`) of the products the sessions name.
    #[arg(long)]
    vectors: PathBuf,
    /// Sessions: an Online Retail style CSV (InvoiceNo, StockCode columns: one basket = one session), or
    /// lines of space-separated ids whose first token is a user id (sequential_data.txt).
    #[arg(long)]
    sessions: PathBuf,
    /// Number of segments (1..=8).
    #[arg(long, default_value_t = 8)]
    k: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
}

/// Minimal CSV split: commas inside double quotes stay in the field.
fn csv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Sessions as lists of product ids, in file order.
fn read_sessions(path: &Path) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if header.contains("InvoiceNo") && header.contains("StockCode") {
        let cols = csv_fields(header);
        let col = |name: &str| {
            cols.iter()
                .position(|c| c == name)
                .context(format!("no {name} column"))
        };
        let (inv, code) = (col("InvoiceNo")?, col("StockCode")?);
        let mut baskets: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let f = csv_fields(line);
            if let (Some(i), Some(c)) = (f.get(inv), f.get(code)) {
                // Cancellations ("C…") are not what anyone wanted.
                if !i.starts_with('C') {
                    baskets.entry(i.clone()).or_default().push(c.clone());
                }
            }
        }
        return Ok(baskets.into_values().collect());
    }
    Ok(text
        .lines()
        .map(|l| l.split_whitespace().skip(1).map(str::to_owned).collect())
        .collect())
}

pub fn run(args: SegmentsArgs) -> Result<()> {
    if !(1..=8).contains(&args.k) {
        bail!("--k must be in 1..=8 (reports carry the segment; few segments keep them coarse)");
    }
    let bytes =
        std::fs::read(&args.vectors).with_context(|| format!("reading {}", args.vectors.display()))?;
    let catalog = Catalog::from_bytes(&bytes)?;
    let sessions = read_sessions(&args.sessions)?;
    let mut intents = Vec::new();
    for s in &sessions {
        let steps: Vec<SessionStep> = s
            .iter()
            .filter_map(|id| catalog.get(id))
            .map(|vector| SessionStep {
                vector,
                kind: EventKind::Purchase,
                gap_secs: None,
            })
            .collect();
        // Sessions of one or two known products say little about a shopper's mix of interests.
        if steps.len() >= 3 {
            intents.push(zero_shot_intent(&steps));
        }
    }
    let centroids = kmeans(&intents, args.k, 100, args.seed)?;
    let mut sizes = vec![0usize; args.k];
    let seg = Segments {
        version: 1,
        encoder: catalog.model_checksum(),
        source: format!(
            "{} ({} sessions of 3+ known products)",
            args.sessions.display(),
            intents.len()
        ),
        centroids,
    };
    for i in &intents {
        sizes[seg.assign(i) as usize] += 1;
    }
    std::fs::write(&args.out, serde_json::to_string(&seg)? + "\n")
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {}: {} segments from {} sessions, sizes {sizes:?}",
        args.out.display(),
        args.k,
        intents.len()
    );
    Ok(())
}
