//! A collector over real HTTP on 127.0.0.1:0 with a temporary SQLite file, an admin token, and reports
//! built by the core's own builder.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::Value;
use vitrine::report::{report_id, Experiment, Interaction, Ledger, Registry, Report, Reporter};
use vitrine_collector::{spawn, Config, Running};

pub const TOKEN: &str = "test-admin-token";

pub struct Server {
    pub rt: tokio::runtime::Runtime,
    running: Option<Running>,
    pub url: String,
    pub addr: std::net::SocketAddr,
    agent: ureq::Agent,
}

pub fn cfg(db: &Path) -> Config {
    let mut c = Config::new(db.to_path_buf());
    c.admin_token = Some(TOKEN.into());
    // Windows are released by the admin API in tests, never by the clock.
    c.window_secs = 1_000_000;
    c
}

impl Server {
    pub fn start(cfg: Config) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            spawn(&cfg, listener).await.unwrap()
        });
        let addr = running.addr;
        // 4xx must come back as responses to inspect, not as errors.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            rt,
            running: Some(running),
            url: format!("http://{addr}"),
            addr,
            agent,
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, Vec<(String, String)>) {
        let url = format!("{}{path}", self.url);
        let mut r = match (method, body) {
            ("GET", _) => {
                let mut q = self.agent.get(&url);
                for (k, v) in headers {
                    q = q.header(*k, *v);
                }
                q.call().unwrap()
            }
            (_, b) => {
                let mut q = self.agent.post(&url).header("content-type", "application/json");
                for (k, v) in headers {
                    q = q.header(*k, *v);
                }
                q.send(b.unwrap_or("")).unwrap()
            }
        };
        let hs = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            r.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            hs,
        )
    }

    pub fn post_report(&self, report: &Report) -> (u16, Value) {
        let (s, v, _) = self.request(
            "POST",
            "/v1/reports",
            Some(&serde_json::to_string(report).unwrap()),
            &[],
        );
        (s, v)
    }

    pub fn admin(&self, path: &str, body: Option<&str>) -> (u16, Value) {
        let auth = format!("Bearer {TOKEN}");
        let method = if body.is_some() || path.ends_with("release") || path.ends_with("/end") {
            "POST"
        } else {
            "GET"
        };
        let (s, v, _) = self.request(method, path, body, &[("authorization", &auth)]);
        (s, v)
    }

    pub fn register(&self, id: &str, variants: &[&str], mode: &str, holdout: f64, k: u64) -> Experiment {
        let body = serde_json::json!({"id": id, "slot": id, "variants": variants, "mode": mode, "holdout": holdout, "k": k});
        let (s, v) = self.admin("/v1/admin/experiments", Some(&body.to_string()));
        assert_eq!(s, 201, "{v}");
        serde_json::from_value(v).unwrap()
    }

    pub fn release(&self) -> u64 {
        let (s, v) = self.admin("/v1/admin/release", None);
        assert_eq!(s, 200, "{v}");
        v["released"].as_u64().unwrap()
    }

    pub fn stats(&self) -> Value {
        let (s, v, _) = self.request("GET", "/v1/stats", None, &[]);
        assert_eq!(s, 200, "{v}");
        v
    }

    pub fn totals(&self) -> Value {
        self.admin("/v1/admin/totals", None).1
    }

    /// Simulate a crash: no graceful shutdown, in-flight work dropped.
    pub fn crash(mut self) {
        if let Some(r) = self.running.take() {
            r.abort();
        }
        self.rt.shutdown_timeout(std::time::Duration::from_secs(5));
    }

    /// Sends raw bytes on a fresh connection and returns what came back within `wait`.
    pub fn raw(&self, bytes: &[u8], wait: std::time::Duration) -> String {
        let mut s = std::net::TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(wait)).unwrap();
        s.write_all(bytes).unwrap();
        let mut out = vec![0u8; 4096];
        let n = s.read(&mut out).unwrap_or(0);
        String::from_utf8_lossy(&out[..n]).into_owned()
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A real report from the core's builder: one device shown `variant` of `exp`, clicked or not.
pub fn report(exp: &Experiment, variant: &str, clicked: bool, rng: &mut StdRng) -> Report {
    let mut dev = Reporter::new();
    dev.track(exp, variant, Interaction::Impression).unwrap();
    if clicked {
        dev.track(exp, variant, Interaction::Click).unwrap();
    }
    let registry = Registry {
        v: 1,
        experiments: vec![exp.clone()],
    };
    let (mut reports, why) = dev.build(&registry, &mut Ledger::new(), now(), rng);
    assert_eq!(reports.len(), 1, "{why:?}");
    let mut r = reports.remove(0);
    r.id = report_id(rng.random());
    r
}
