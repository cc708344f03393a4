//! `vitrine-collector`: serve report ingestion, statistics, priors and the dashboard on one address.

use std::path::PathBuf;

use clap::Parser;
use vitrine_collector::{spawn, CollectorError, Config};

#[derive(Parser)]
#[command(
    name = "vitrine-collector",
    version,
    about = "Private aggregate report collector for Vitrine"
)]
struct Args {
    /// SQLite database file (created if absent; WAL mode).
    #[arg(long, default_value = "vitrine.db")]
    db: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: String,
    /// Release threshold: no statistic about a group of fewer reports.
    #[arg(long, default_value_t = 100)]
    k: u64,
    /// Global rate limit, requests per second.
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
}

#[tokio::main]
async fn main() -> Result<(), CollectorError> {
    let args = Args::parse();
    let mut cfg = Config::new(args.db);
    cfg.k = args.k;
    cfg.rate_per_sec = args.rate;
    cfg.burst = args.rate * 2.0;
    let bind = |e: std::io::Error| CollectorError::Bind {
        addr: args.addr.clone(),
        reason: e.to_string(),
    };
    let listener = tokio::net::TcpListener::bind(&args.addr).await.map_err(bind)?;
    let running = spawn(&cfg, listener).await?;
    // One formatted line in one write: a reader that waits for a newline (tests, scripts) never sees
    // a partial address, which unbuffered stderr could otherwise deliver in pieces.
    let line = format!(
        "vitrine-collector on http://{} (db {}, k = {}); dashboard at /dashboard\n",
        running.addr,
        cfg.db.display(),
        cfg.k
    );
    {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("shutting down: finishing in-flight reports");
    running.shutdown().await;
    Ok(())
}
