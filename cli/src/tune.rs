//! `vitrine tune-zero-shot`: ranks a grid of zero-shot mixes (`vitrine::model::zero_shot::ZeroShotMix`)
//! on one split in one pass, one JSON line per setting, to choose the defaults on several data sets.
//! Each score part comes from the shared scorer with the other parts' weights at 0, so every setting is
//! the SDK's score up to the order of three additions.

use anyhow::Result;
use clap::Args;
use rayon::prelude::*;
use vitrine::model::zero_shot::{ZeroShotCatalog, ZeroShotMix};

use crate::data::{Dataset, VectorArgs};
use crate::eval::{cases, zero_shot_steps, Split};
use crate::metrics::{rank_of, Metrics};

#[derive(Args)]
pub struct TuneArgs {
    #[arg(long)]
    pub data: std::path::PathBuf,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[arg(long, value_enum, default_value = "valid")]
    pub split: Split,
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5,0.7,0.9")]
    pub decay: Vec<f32>,
    #[arg(long, value_delimiter = ',', default_value = "0,0.25,0.5,0.75,1,1.5")]
    pub lexical: Vec<f32>,
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.6,0.8")]
    pub lexical_decay: Vec<f32>,
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub price: Vec<f32>,
    /// `visit_gap_secs` values; a negative one stands for none (every step its own visit).
    #[arg(long, value_delimiter = ',', default_value = "-1", allow_hyphen_values = true)]
    pub visit_gap: Vec<f32>,
}

pub fn run(args: &TuneArgs) -> Result<()> {
    let ds = Dataset::load(&args.data)?;
    let cases = cases(&ds, args.split);
    let vectors = args.vectors.load(&ds)?;
    let n = ds.n_items();
    let catalog = ZeroShotCatalog::new(&vectors, &ds.texts, &ds.prices);
    let part = |gap: f32, f: &dyn Fn(&mut ZeroShotMix)| {
        let mut m = ZeroShotMix {
            content: 0.0,
            lexical: 0.0,
            price: 0.0,
            visit_gap_secs: (gap >= 0.0).then_some(gap),
            ..Default::default()
        };
        f(&mut m);
        m
    };
    // Settings in output order: gap, decay, lexical decay, lexical, price.
    let mut settings = Vec::new();
    for (g, _) in args.visit_gap.iter().enumerate() {
        for d in 0..args.decay.len() {
            for ld in 0..args.lexical_decay.len() {
                for l in 0..args.lexical.len() {
                    for p in 0..args.price.len() {
                        settings.push((g, d, ld, l, p));
                    }
                }
            }
        }
    }
    let ranks: Vec<Vec<usize>> = cases
        .par_iter()
        .map(|case| -> Result<Vec<usize>> {
            let steps = zero_shot_steps(&ds, &vectors, case);
            let mut out = Vec::with_capacity(settings.len());
            for &gap in &args.visit_gap {
                let content: Vec<Vec<f32>> = (args.decay.iter())
                    .map(|&d| catalog.scores(&part(gap, &|m| (m.decay, m.content) = (d, 1.0)), &steps))
                    .collect::<Result<_, _>>()?;
                let price: Vec<Vec<f32>> = (args.decay.iter())
                    .map(|&d| catalog.scores(&part(gap, &|m| (m.decay, m.price) = (d, 1.0)), &steps))
                    .collect::<Result<_, _>>()?;
                let words: Vec<Vec<f32>> = (args.lexical_decay.iter())
                    .map(|&d| {
                        catalog.scores(&part(gap, &|m| (m.lexical_decay, m.lexical) = (d, 1.0)), &steps)
                    })
                    .collect::<Result<_, _>>()?;
                let mut row = vec![0f32; n];
                for d in 0..args.decay.len() {
                    for w in &words {
                        for &l in &args.lexical {
                            for &p in &args.price {
                                for (j, x) in row.iter_mut().enumerate() {
                                    *x = content[d][j] + l * w[j] + p * price[d][j];
                                }
                                out.push(rank_of(&row, case.target, case.history));
                            }
                        }
                    }
                }
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    for (k, &(g, d, ld, l, p)) in settings.iter().enumerate() {
        let m = Metrics::from_ranks(&ranks.iter().map(|r| r[k]).collect::<Vec<_>>());
        let gap = args.visit_gap[g];
        let line = serde_json::json!({
            "data": ds.name, "split": format!("{:?}", args.split).to_lowercase(),
            "decay": args.decay[d], "lexical_decay": args.lexical_decay[ld], "lexical": args.lexical[l],
            "price": args.price[p], "visit_gap_secs": (gap >= 0.0).then_some(gap),
            "ndcg@10": m.ndcg10, "hr@10": m.hr10, "mrr": m.mrr, "users": m.users,
        });
        println!("{line}");
    }
    Ok(())
}
