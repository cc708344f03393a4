//! The collector over real HTTP against the attacks of issue 15: per-shopper experiment ids, unreleased
//! groups, fake reports, differencing, resends, floods; and durability after a crash.

mod common;

use std::time::Duration;

use common::{cfg, report, Server};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use vitrine::report::Randomised;

#[test]
fn per_shopper_ids_and_wrong_shapes_get_4xx_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(cfg(&dir.path().join("c.db")));
    let hero = s.register("hero", &["A", "B"], "ab", 0.0, 10);
    let bandit = s.register("bandit", &["A", "B"], "bandit", 0.0, 10);
    let mut rng = StdRng::seed_from_u64(1);
    let good = report(&hero, "A", true, &mut rng);
    let mut cases: Vec<(&str, Value, u16)> = Vec::new();
    for i in 1..=3 {
        let mut r = serde_json::to_value(&good).unwrap();
        r["experiment"] = format!("hero.customer-4711-{i}").into();
        cases.push(("per-shopper experiment id", r, 404));
    }
    let with = |k: &str, v: Value| {
        let mut r = serde_json::to_value(&good).unwrap();
        r[k] = v;
        r
    };
    cases.extend([
        (
            "per-shopper variant as arm",
            with("arm", "customer-4711".into()),
            422,
        ),
        ("no arm for an A/B test", with("arm", Value::Null), 422),
        ("value outside the 4 outcomes", with("r", 4.into()), 422),
        (
            "bits where GRR is expected",
            with("r", serde_json::json!([0, 1, 0, 0])),
            422,
        ),
        ("a declared epsilon", with("epsilon", 0.1.into()), 400),
        ("a segment", with("segment", 3.into()), 400),
        ("old schema", with("v", 1.into()), 422),
        ("short id", with("id", "abc".into()), 422),
        ("future hour", with("hour", u32::MAX.into()), 422),
    ]);
    let mut in_clear = serde_json::to_value(report(&bandit, "B", false, &mut rng)).unwrap();
    in_clear["arm"] = "B".into();
    cases.push(("bandit variant in clear", in_clear, 422));
    for (name, body, want) in cases {
        let (status, v, _) = s.request("POST", "/v1/reports", Some(&body.to_string()), &[]);
        assert_eq!(status, want, "{name}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {v}"
        );
    }
    let (status, v, _) = s.request("POST", "/v1/reports", Some("{\"v\":2,"), &[]);
    assert_eq!(status, 400, "{v}");
    assert_eq!(s.totals()["reports"], 0, "refused reports stored nothing");
    assert_eq!(
        s.post_report(&good),
        (200, serde_json::json!({"accepted": 1, "duplicate": false}))
    );
    // Ended: refused with 410, and what was received stays.
    assert_eq!(s.admin("/v1/admin/experiments/hero/end", None).0, 200);
    assert_eq!(s.post_report(&report(&hero, "B", false, &mut rng)).0, 410);
    assert_eq!(s.totals()["reports"], 1);
}

#[test]
fn stats_name_no_unreleased_group_and_change_only_at_a_release() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(cfg(&dir.path().join("k.db")));
    let hero = s.register("hero", &["A", "B"], "ab", 0.0, 20);
    let mut rng = StdRng::seed_from_u64(2);
    // 99 fake reports in a group of k = 100 are not enough; nor are 99 resends of one report.
    let big = s.register("big", &["A"], "ab", 0.0, 100);
    let one = report(&big, "A", true, &mut rng);
    for _ in 0..99 {
        assert_eq!(s.post_report(&one).0, 200);
    }
    for i in 0..98 {
        assert_eq!(s.post_report(&report(&big, "A", i % 2 == 0, &mut rng)).0, 200);
    }
    for i in 0..39 {
        s.post_report(&report(
            &hero,
            if i % 2 == 0 { "A" } else { "B" },
            false,
            &mut rng,
        ));
    }
    assert_eq!(
        s.release(),
        0,
        "hero's B has 19 < k reports; big has 99 (98 fakes and one report resent 99 times)"
    );
    let before = s.stats();
    assert_eq!(
        before["experiments"],
        serde_json::json!([]),
        "nothing is named: {before}"
    );
    let (_, priors, _) = s.request("GET", "/v1/priors", None, &[]);
    assert_eq!(priors["priors"], serde_json::json!([]), "{priors}");
    // A new arrival changes nothing visible until a release: polling cannot read one report.
    s.post_report(&report(&hero, "B", true, &mut rng));
    assert_eq!(s.stats(), before);
    assert_eq!(s.release(), 1);
    let st = s.stats();
    let exps = st["experiments"].as_array().unwrap();
    assert_eq!(exps.len(), 1, "only hero is released: {st}");
    assert_eq!(exps[0]["experiment"], "hero");
    assert_eq!(exps[0]["reports"], 40);
    assert_eq!(s.totals()["duplicates"], 98);
}

#[test]
fn released_windows_are_disjoint_and_each_holds_k_per_arm() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(cfg(&dir.path().join("w.db")));
    let hero = s.register("hero", &["A", "B"], "ab", 0.2, 10);
    let mut rng = StdRng::seed_from_u64(3);
    let mut posted = 0u64;
    // Three rounds of uneven traffic; the holdout (20 %) often holds a window back until it has k.
    for round in 0..3 {
        for i in 0..(40 + 30 * round) {
            let arm = ["A", "B", "holdout", "A", "B"][i % 5];
            assert_eq!(s.post_report(&report(&hero, arm, i % 7 == 0, &mut rng)).0, 200);
            posted += 1;
        }
        s.release();
    }
    let st = s.stats();
    let exp = &st["experiments"][0];
    let windows = exp["windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    let mut sum = std::collections::BTreeMap::<String, u64>::new();
    for w in windows {
        for v in w["variants"].as_array().unwrap() {
            let n = v["impressions"].as_u64().unwrap();
            assert!(n >= 10, "a released group below k: {w}");
            *sum.entry(v["variant"].as_str().unwrap().to_owned()).or_default() += n;
        }
    }
    // The whole-run numbers are exactly the sum of the windows: no difference isolates anything smaller.
    for v in exp["variants"].as_array().unwrap() {
        assert_eq!(
            Some(&v["impressions"].as_u64().unwrap()),
            sum.get(v["variant"].as_str().unwrap())
        );
    }
    let released: u64 = sum.values().sum();
    assert_eq!(exp["reports"].as_u64(), Some(released));
    assert!(released <= posted);
}

#[test]
fn a_resent_report_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(cfg(&dir.path().join("d.db")));
    let hero = s.register("hero", &["A"], "ab", 0.0, 10);
    let r = report(&hero, "A", false, &mut StdRng::seed_from_u64(4));
    assert_eq!(s.post_report(&r).1["duplicate"], false);
    assert_eq!(
        s.post_report(&r),
        (200, serde_json::json!({"accepted": 0, "duplicate": true}))
    );
    let mut other = r.clone();
    other.r = Randomised::Value(3);
    assert_eq!(
        s.post_report(&other).1["duplicate"],
        true,
        "an id is single-use whatever it carries"
    );
    assert_eq!(s.totals(), serde_json::json!({"reports": 1, "duplicates": 2}));
}

#[test]
fn floods_are_turned_away_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&dir.path().join("r.db"));
    c.rate_per_sec = 0.01;
    c.burst = 2.0;
    c.request_timeout = Duration::from_secs(1);
    let s = Server::start(c);
    let hero = s.register("hero", &["A"], "ab", 0.0, 10);
    let mut rng = StdRng::seed_from_u64(5);
    // A body that never arrives: the request times out (408) instead of holding a slot forever.
    let slow = s.raw(
        b"POST /v1/reports HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{",
        Duration::from_secs(5),
    );
    assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
    assert_eq!(s.post_report(&report(&hero, "A", false, &mut rng)).0, 200);
    // The bucket is empty now: the answer is 429 although the body is still to come (or too large).
    let flood = s.raw(
        b"POST /v1/reports HTTP/1.1\r\nhost: x\r\ncontent-length: 999999\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(flood.starts_with("HTTP/1.1 429"), "{flood}");
    let (status, v) = s.post_report(&report(&hero, "A", false, &mut rng));
    assert_eq!((status, v["error"].as_str()), (429, Some("rate_limited")));
}

#[test]
fn cors_admin_and_the_cacheable_registry() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&dir.path().join("a.db"));
    c.cors_origins = vec!["https://shop.example".into()];
    let s = Server::start(c);
    let (status, _, _) = s.request("POST", "/v1/admin/experiments", Some("{}"), &[]);
    assert_eq!(status, 401, "no token");
    let (status, _, _) = s.request(
        "POST",
        "/v1/admin/release",
        None,
        &[("authorization", "Bearer wrong")],
    );
    assert_eq!(status, 401, "wrong token");
    s.register("hero", &["A", "B"], "ab", 0.1, 10);
    let allow = |hs: &[(String, String)]| {
        hs.iter()
            .find(|(k, _)| k == "access-control-allow-origin")
            .map(|(_, v)| v.clone())
    };
    let (_, _, hs) = s.request("GET", "/v1/stats", None, &[("origin", "https://evil.example")]);
    assert_eq!(allow(&hs), None, "stats are not readable from another origin");
    let (_, _, hs) = s.request("GET", "/v1/stats", None, &[("origin", "https://shop.example")]);
    assert_eq!(allow(&hs).as_deref(), Some("https://shop.example"));
    let (status, reg, hs) = s.request(
        "GET",
        "/v1/experiments",
        None,
        &[("origin", "https://evil.example")],
    );
    assert_eq!(
        (status, allow(&hs).as_deref()),
        (200, Some("*")),
        "the registry is public"
    );
    assert_eq!(reg["experiments"][0]["variants"], serde_json::json!(["A", "B"]));
    let etag = hs.iter().find(|(k, _)| k == "etag").unwrap().1.clone();
    assert!(hs
        .iter()
        .any(|(k, v)| k == "cache-control" && v.contains("max-age")));
    let (status, _, _) = s.request("GET", "/v1/experiments", None, &[("if-none-match", &etag)]);
    assert_eq!(status, 304);
    let (status, dap, hs) = s.request(
        "GET",
        "/v1/dap-tasks",
        None,
        &[("origin", "https://evil.example")],
    );
    assert_eq!(
        (status, allow(&hs).as_deref()),
        (200, Some("*")),
        "the DAP tasks are public"
    );
    assert_eq!(
        dap,
        serde_json::json!({ "tasks": [] }),
        "without --dap-config, no task"
    );
    let (status, html, _) = s.request("GET", "/dashboard", None, &[]);
    let html = html.as_str().unwrap_or("").to_owned();
    // Self-contained: no script, style or image from elsewhere (the SVG namespace URI loads nothing).
    assert!(status == 200 && html.contains("/v1/stats") && !html.contains("src=") && !html.contains("href="));
}

#[test]
fn acknowledged_reports_survive_a_crash_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("durable.db");
    let s = Server::start(cfg(&db));
    let hero = s.register("hero", &["A", "B"], "ab", 0.0, 10);
    let mut rng = StdRng::seed_from_u64(6);
    let mut acked = 0u64;
    for i in 0..300 {
        if s.post_report(&report(
            &hero,
            if i % 2 == 0 { "A" } else { "B" },
            i % 3 == 0,
            &mut rng,
        ))
        .0 == 200
        {
            acked += 1;
        }
    }
    assert_eq!(acked, 300);
    s.crash();
    let s = Server::start(cfg(&db));
    assert_eq!(s.totals()["reports"].as_u64(), Some(acked));
    assert_eq!(s.release(), 1, "the pending sums survived");
    assert_eq!(s.stats()["experiments"][0]["reports"].as_u64(), Some(acked));
}
