//! `vitrine`: the native command-line tool over the same core the browser runs.

use anyhow::Result;
use clap::{Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
    /// Print what this engine build is (version, SIMD, architecture) as JSON.
    Info,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Info => println!(
            "{}",
            serde_json::to_string(&vitrine::engine::EngineInfo::current())?
        ),
    }
    Ok(())
}
