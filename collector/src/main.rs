//! `vitrine-collector`: serve ingestion, the registry, statistics, priors and the dashboard on one
//! address; `vitrine-collector experiments add|list|end` edits the registry in the database file.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use vitrine::report::{Experiment, ExperimentMode, Registry};
use vitrine_collector::server::now_secs;
use vitrine_collector::store::open_conn;
use vitrine_collector::{registry, spawn, CollectorError, Config};

#[derive(Parser)]
#[command(
    name = "vitrine-collector",
    version,
    about = "Private aggregate report collector for Vitrine",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(clap::Args)]
struct Serve {
    /// SQLite database file (created if absent; WAL mode).
    #[arg(long, default_value = "vitrine.db")]
    db: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: String,
    /// Global rate limit, requests per second.
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// Release windows in seconds: pending reports are released once each arm has k.
    #[arg(long, default_value_t = 3600)]
    window_secs: u64,
    /// Bearer token of the admin API (off without one).
    #[arg(long, env = "VITRINE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// An origin allowed to read /v1/stats and the admin API from a browser (repeatable).
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Registers the experiments of this /v1/experiments-shaped JSON file that are not registered yet.
    #[arg(long)]
    register: Option<PathBuf>,
    /// DAP mode: the collector credentials `dap provision` wrote (scripts/dap.sh: .cache/dap/
    /// collector-credentials.json). Each registered experiment with a task is collected from the leader
    /// in closed windows of --window-secs; the others keep the local-DP path.
    #[arg(long)]
    dap_config: Option<PathBuf>,
    /// DAP mode: seconds after a window closes before it is collected (late uploads still count).
    #[arg(long, default_value_t = 60)]
    dap_grace_secs: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Edit or list the experiment registry.
    #[command(subcommand)]
    Experiments(Experiments),
    /// DAP mode: provision tasks for a Janus leader and helper.
    #[command(subcommand)]
    Dap(Dap),
}

#[derive(Subcommand)]
enum Dap {
    /// Fresh task ids, keys and tokens for each task of a list: writes leader-tasks.yaml and
    /// helper-tasks.yaml (for `janus_cli provision-tasks`), dap-config.json (public, for the SDK) and
    /// collector-credentials.json (secret, for --dap-config) into --out.
    Provision {
        /// Task list: {"tasks": [{"id", "variants", "vdaf": "histogram"|"sumvec", "time_precision",
        /// "min_batch_size", "noise_epsilon"}]} (scripts/dap-tasks.json), or a registry document
        /// (GET /v1/experiments): one histogram task per experiment not ended, hourly, batches ≥ 100, ε 1.
        #[arg(long)]
        tasks: PathBuf,
        /// Keep the tasks already in --out (same ids and keys) and add only experiments without one;
        /// the YAML files then list only the added tasks.
        #[arg(long)]
        append: bool,
        /// The leader's base URL, as devices and this collector reach it.
        #[arg(long)]
        leader: String,
        /// The helper's base URL, as devices and the leader reach it.
        #[arg(long)]
        helper: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn read(file: &PathBuf) -> Result<String, CollectorError> {
    std::fs::read_to_string(file).map_err(|e| CollectorError::Open {
        path: file.display().to_string(),
        reason: e.to_string(),
    })
}

fn dap(cmd: Dap) -> Result<(), CollectorError> {
    let Dap::Provision {
        tasks,
        append,
        leader,
        helper,
        out,
    } = cmd;
    let old = out.join("collector-credentials.json");
    let existing = match append && old.exists() {
        true => Some(vitrine_collector::dap::Credentials::from_json(&read(&old)?)?),
        false => None,
    };
    let p = vitrine_collector::dap::provision::provision(
        &read(&tasks)?,
        &leader,
        &helper,
        existing.as_ref(),
        now_secs(),
    )?;
    vitrine_collector::dap::provision::write(&p, &out)?;
    eprintln!(
        "provisioned {} new DAP task(s), {} in all, into {} (collector-credentials.json is secret)",
        p.added,
        p.config.tasks.len(),
        out.display()
    );
    Ok(())
}

#[derive(Subcommand)]
enum Experiments {
    /// Register an experiment (it starts now).
    Add {
        #[arg(long, default_value = "vitrine.db")]
        db: PathBuf,
        #[arg(long)]
        id: String,
        /// The page's slot (`pickCopy(slot, …)`).
        #[arg(long)]
        slot: String,
        /// Variant ids, the control first: `a,b,c` (at most 8).
        #[arg(long, value_delimiter = ',')]
        variants: Vec<String>,
        #[arg(long, default_value = "ab")]
        mode: ExperimentMode,
        /// A/B share held out (shown the control).
        #[arg(long, default_value_t = 0.0)]
        holdout: f64,
        /// Release threshold (reports per arm per window).
        #[arg(long, default_value_t = 100)]
        k: u64,
    },
    /// Print the registry as JSON.
    List {
        #[arg(long, default_value = "vitrine.db")]
        db: PathBuf,
    },
    /// End an experiment now: later reports are refused.
    End {
        #[arg(long, default_value = "vitrine.db")]
        db: PathBuf,
        id: String,
    },
}

fn experiments(cmd: Experiments) -> Result<(), CollectorError> {
    match cmd {
        Experiments::Add {
            db,
            id,
            slot,
            variants,
            mode,
            holdout,
            k,
        } => {
            let e = Experiment {
                id,
                slot,
                variants,
                mode,
                holdout,
                k,
                start: now_secs(),
                end: None,
            };
            registry::add(&open_conn(&db)?, &e)?;
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
        }
        Experiments::List { db } => {
            let r = registry::list(&open_conn(&db)?)?;
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        }
        Experiments::End { db, id } => registry::end(&open_conn(&db)?, &id, now_secs())?,
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), CollectorError> {
    let args = Args::parse();
    match args.command {
        Some(Command::Experiments(cmd)) => return experiments(cmd),
        Some(Command::Dap(cmd)) => return dap(cmd),
        None => {}
    }
    let a = args.serve;
    if let Some(file) = &a.register {
        let text = read(file)?;
        let reg: Registry =
            serde_json::from_str(&text).map_err(|e| CollectorError::Malformed(e.to_string()))?;
        let added = registry::register_missing(&open_conn(&a.db)?, &reg, now_secs())?;
        if added > 0 {
            eprintln!("registered {added} experiment(s) from {}", file.display());
        }
    }
    let mut cfg = Config::new(a.db);
    cfg.rate_per_sec = a.rate;
    cfg.burst = a.rate * 2.0;
    cfg.window_secs = a.window_secs;
    cfg.admin_token = a.admin_token;
    cfg.cors_origins = a.cors_origins;
    cfg.dap_grace_secs = a.dap_grace_secs;
    if let Some(file) = &a.dap_config {
        cfg.dap = Some(vitrine_collector::dap::Credentials::from_json(&read(file)?)?);
        cfg.dap_file = Some(file.clone());
    }
    let bind = |e: std::io::Error| CollectorError::Bind {
        addr: a.addr.clone(),
        reason: e.to_string(),
    };
    let listener = tokio::net::TcpListener::bind(&a.addr).await.map_err(bind)?;
    let running = spawn(&cfg, listener).await?;
    // One formatted line in one write: a reader that waits for a newline (tests, scripts) never sees
    // a partial address, which unbuffered stderr could otherwise deliver in pieces.
    let line = format!(
        "vitrine-collector on http://{} (db {}, windows {} s, admin API {}{}); dashboard at /dashboard\n",
        running.addr,
        cfg.db.display(),
        cfg.window_secs,
        if cfg.admin_token.is_some() { "on" } else { "off" },
        match &cfg.dap {
            Some(c) => format!(
                ", DAP from {} for {} task(s)",
                c.config.leader,
                c.config.tasks.len()
            ),
            None => String::new(),
        }
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
