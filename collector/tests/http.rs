//! The collector over real HTTP on 127.0.0.1:0 with a temporary SQLite file: hostile input gets JSON 4xx
//! and the server keeps serving; the k threshold holds; acknowledged reports survive a crash.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use vitrine::report::{Batch, CellKey, Interaction, Report, ReportConfig, Reporter};
use vitrine_collector::{spawn, Config, Running};

struct Server {
    rt: tokio::runtime::Runtime,
    running: Option<Running>,
    url: String,
    agent: ureq::Agent,
}

impl Server {
    fn start(cfg: Config) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            spawn(&cfg, listener).await.unwrap()
        });
        let url = format!("http://{}", running.addr);
        // 4xx must come back as responses to inspect, not as errors.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            rt,
            running: Some(running),
            url,
            agent,
        }
    }

    fn post(&self, body: &str) -> (u16, Value) {
        let mut r = self
            .agent
            .post(&format!("{}/v1/reports", self.url))
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        (
            r.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut r = self.agent.get(&format!("{}{path}", self.url)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    fn stats(&self) -> Value {
        let (status, body) = self.get("/v1/stats");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Simulate a crash: no graceful shutdown, in-flight work dropped.
    fn crash(mut self) {
        if let Some(r) = self.running.take() {
            r.abort();
        }
        self.rt.shutdown_timeout(std::time::Duration::from_secs(5));
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A real report from the core's builder: one device, one exposure of `variant`.
fn report(variant: &str, clicked: bool, rng: &mut StdRng) -> Report {
    let mut dev = Reporter::new(ReportConfig::default()).unwrap();
    let key = CellKey::new("hero", variant, 1).unwrap();
    dev.track(&key, Interaction::Impression).unwrap();
    if clicked {
        dev.track(&key, Interaction::Click).unwrap();
    }
    dev.build(now(), rng).unwrap()
}

fn batch_json(reports: Vec<Report>) -> String {
    serde_json::to_string(&Batch { reports }).unwrap()
}

fn cfg(db: &Path) -> Config {
    Config::new(db.to_path_buf())
}

#[test]
fn hostile_input_gets_json_4xx_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(cfg(&dir.path().join("c.db")));
    let mut rng = StdRng::seed_from_u64(1);
    let good = serde_json::to_value(Batch {
        reports: vec![report("A", true, &mut rng)],
    })
    .unwrap();
    let with = |path: &[&str], v: Value| {
        let mut b = good.clone();
        let mut node = &mut b;
        for p in &path[..path.len() - 1] {
            node = match p.parse::<usize>() {
                Ok(i) => &mut node[i],
                Err(_) => &mut node[*p],
            };
        }
        node[path[path.len() - 1]] = v;
        b.to_string()
    };
    let cases: Vec<(&str, String, u16)> = vec![
        ("not json", "{\"reports\": [".into(), 400),
        ("empty body", String::new(), 400),
        ("unknown top field", with(&["user_id"], "u-123".into()), 400),
        (
            "unknown report field",
            with(&["reports", "0", "ip"], "1.2.3.4".into()),
            400,
        ),
        (
            "NaN literal",
            good.to_string().replace("\"epsilon\":1.0", "\"epsilon\":NaN"),
            400,
        ),
        (
            "negative epsilon",
            with(&["reports", "0", "epsilon"], (-1.0).into()),
            422,
        ),
        (
            "huge epsilon",
            with(&["reports", "0", "epsilon"], 1e308.into()),
            422,
        ),
        (
            "segment 8",
            with(&["reports", "0", "entries", "0", "segment"], 8.into()),
            422,
        ),
        (
            "segment 2^40",
            with(&["reports", "0", "entries", "0", "segment"], (1u64 << 40).into()),
            400,
        ),
        (
            "negative segment",
            with(&["reports", "0", "entries", "0", "segment"], (-1).into()),
            400,
        ),
        (
            "bit 5",
            with(
                &["reports", "0", "entries", "0", "bits"],
                serde_json::json!([5, 0, 0, 0, 0, 0, 0]),
            ),
            422,
        ),
        (
            "short bits",
            with(
                &["reports", "0", "entries", "0", "bits"],
                serde_json::json!([1, 0]),
            ),
            422,
        ),
        (
            "free-text variant",
            with(
                &["reports", "0", "entries", "0", "variant"],
                "red shoes size 9".into(),
            ),
            422,
        ),
        (
            "future hour",
            with(&["reports", "0", "hour"], u32::MAX.into()),
            422,
        ),
        ("no reports", "{\"reports\":[]}".into(), 422),
        (
            "oversized",
            format!("{{\"reports\":[\"{}\"]}}", "x".repeat(300 * 1024)),
            413,
        ),
    ];
    for (name, body, want) in cases {
        let (status, v) = s.post(&body);
        assert_eq!(status, want, "{name}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: JSON error with a message: {v}"
        );
    }
    let (status, v) = s.post(&good.to_string());
    assert_eq!(
        (status, v["accepted"].as_u64()),
        (200, Some(1)),
        "still serving after hostile input"
    );
    assert_eq!(s.stats()["reports_total"], 1, "rejected requests stored nothing");
    let (status, html) = s.get("/dashboard");
    // Self-contained: no script, style or image from elsewhere (the SVG namespace URI loads nothing).
    assert!(status == 200 && html.contains("/v1/stats") && !html.contains("src=") && !html.contains("href="));
    assert_eq!(s.get("/nope").0, 404);
}

#[test]
fn nothing_is_released_below_k_reports() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(cfg(&dir.path().join("k.db")));
    let mut rng = StdRng::seed_from_u64(2);
    let reports: Vec<Report> = (0..99).map(|i| report("A", i % 10 == 0, &mut rng)).collect();
    assert_eq!(s.post(&batch_json(reports)).0, 200);
    let st = s.stats();
    let a = &st["experiments"][0]["variants"][0];
    assert_eq!(a["released"], false);
    assert!(
        a.get("ctr").is_none() && a.get("impressions").is_none(),
        "no number below k: {a}"
    );
    let (_, priors) = s.get("/v1/priors");
    assert!(priors.contains("\"priors\":[]"), "{priors}");

    assert_eq!(s.post(&batch_json(vec![report("A", false, &mut rng)])).0, 200);
    let st = s.stats();
    let a = &st["experiments"][0]["variants"][0];
    assert_eq!(
        (a["released"].as_bool(), a["impressions"].as_u64()),
        (Some(true), Some(100))
    );
    assert!(a["ctr"]["lo"].as_f64().unwrap() < a["ctr"]["hi"].as_f64().unwrap());
    let (_, priors) = s.get("/v1/priors");
    let doc = vitrine::copy::Posteriors::from_priors_json(&priors);
    assert!(
        doc.is_ok() && priors.contains("\"segment\":1") && priors.contains("\"segment\":null"),
        "{priors}"
    );
}

#[test]
fn acknowledged_reports_survive_a_crash_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("durable.db");
    let s = Server::start(cfg(&db));
    let mut rng = StdRng::seed_from_u64(3);
    let mut acked = 0u64;
    for i in 0..40 {
        let reports: Vec<Report> = (0..25)
            .map(|j| report(if j % 2 == 0 { "A" } else { "B" }, i % 3 == 0, &mut rng))
            .collect();
        let (status, v) = s.post(&batch_json(reports));
        if status == 200 {
            acked += v["accepted"].as_u64().unwrap();
        }
    }
    assert_eq!(acked, 1000);
    s.crash();
    let s = Server::start(cfg(&db));
    let st = s.stats();
    assert_eq!(st["reports_total"].as_u64(), Some(acked));
    let impressions: u64 = st["experiments"][0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["impressions"].as_u64().unwrap())
        .sum();
    assert_eq!(impressions, acked, "every acknowledged entry is in the counts");
}

#[test]
fn rate_limit_answers_429_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&dir.path().join("r.db"));
    c.rate_per_sec = 0.01;
    c.burst = 2.0;
    let s = Server::start(c);
    let body = batch_json(vec![report("A", false, &mut StdRng::seed_from_u64(4))]);
    assert_eq!(s.post(&body).0, 200);
    assert_eq!(s.post(&body).0, 200);
    let (status, v) = s.post(&body);
    assert_eq!(status, 429);
    assert_eq!(v["error"], "rate_limited");
}
