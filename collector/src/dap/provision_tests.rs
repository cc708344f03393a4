//! Tests of DAP provisioning (provision.rs): ids, keys, hashes, registries and --append.
use super::*;

const TASKS: &str = r#"{"tasks": [
    {"id": "hero", "variants": ["A", "B"], "vdaf": "histogram", "time_precision": 60,
     "min_batch_size": 100, "noise_epsilon": 1.0},
    {"id": "promo", "variants": ["x", "y", "z"], "vdaf": "sumvec", "time_precision": 3600,
     "min_batch_size": 50}]}"#;

#[test]
fn every_task_gets_its_own_ids_keys_and_matching_hashes() {
    let p = provision(
        TASKS,
        "http://127.0.0.1:9701",
        "http://127.0.0.1:9702/",
        None,
        1_000,
    )
    .unwrap();
    assert_eq!(p.config.leader, "http://127.0.0.1:9701/");
    assert_eq!(p.config.tasks.len(), 2);
    assert_eq!(p.config.tasks[0].vdaf.length(), 14);
    assert_eq!(p.config.tasks[1].vdaf, VdafSpec::sum_vec(1, 21));
    assert_ne!(p.config.tasks[0].task_id, p.config.tasks[1].task_id);
    // The leader holds the hash of the collector's token, the helper the hash of the leader's.
    let s = &p.credentials.secrets[0];
    assert!(p.leader_yaml.contains(&token_hash(&s.collector_auth_token)));
    assert!(!p.leader_yaml.contains(&s.collector_auth_token));
    assert!(!p.leader_yaml.contains(&s.hpke_private_key) && !p.helper_yaml.contains(&s.hpke_private_key));
    assert!(p.leader_yaml.contains("epsilon: [[1000], [1000]]"));
    assert!(p
        .leader_yaml
        .contains("!Prio3SumVec\n    bits: 1\n    length: 21\n"));
    assert_eq!(p.leader_yaml.matches("role: Leader").count(), 2);
    assert_eq!(p.helper_yaml.matches("role: Helper").count(), 2);
    // The public file carries no secret.
    let public = serde_json::to_string(&p.config).unwrap();
    assert!(!public.contains(&s.collector_auth_token) && !public.contains(&s.hpke_private_key));
}

#[test]
fn bad_task_lists_are_refused_with_the_reason() {
    let err = |t: &str| {
        provision(t, "http://l", "http://h", None, 0)
            .err()
            .unwrap()
            .to_string()
    };
    assert!(err(r#"{"tasks": []}"#).contains("no tasks"));
    assert!(err(r#"{"tasks": [{"id": "a", "variants": ["A"], "vdaf": "count", "time_precision": 60, "min_batch_size": 1}]}"#)
        .contains("histogram"));
    assert!(err(r#"{"tasks": [{"id": "a", "variants": ["A"], "vdaf": "histogram", "time_precision": 0, "min_batch_size": 1}]}"#)
        .contains("time_precision"));
    assert!(err(r#"{"tasks": [{"id": "a", "variants": [], "vdaf": "histogram", "time_precision": 60, "min_batch_size": 1}]}"#)
        .contains("variants"));
}

#[test]
fn a_registry_gets_one_task_per_running_experiment_and_append_keeps_the_old_keys() {
    let registry = |ids: &[&str]| {
        let exps: Vec<String> = ids
            .iter()
            .map(|id| {
                let end = if *id == "ended" { "100" } else { "null" };
                format!(r#"{{"id": "{id}", "slot": "{id}", "variants": ["A", "B", "C"], "mode": "bandit", "holdout": 0, "k": 100, "start": 0, "end": {end}}}"#)
            })
            .collect();
        format!(r#"{{"v": 1, "experiments": [{}]}}"#, exps.join(","))
    };
    let (l, h) = ("http://127.0.0.1:9701/", "http://127.0.0.1:9702/");
    let first = provision(&registry(&["hero", "ended"]), l, h, None, 0).unwrap();
    assert_eq!(first.added, 1, "an ended experiment gets no task");
    let t = &first.config.tasks[0];
    assert_eq!((t.experiment.as_str(), t.vdaf.length()), ("hero", 21));
    assert_eq!(
        (t.time_precision, t.min_batch_size, t.noise_epsilon),
        (3600, 100, Some(1.0))
    );
    // `experiments add promo`, then a sync: hero keeps its id and keys, promo is new, and only promo
    // goes to the aggregators (they already hold hero).
    let second = provision(&registry(&["hero", "promo"]), l, h, Some(&first.credentials), 0).unwrap();
    assert_eq!(second.added, 1);
    assert_eq!(second.config.tasks[0], first.config.tasks[0]);
    assert_eq!(
        second.credentials.secrets[0].hpke_private_key,
        first.credentials.secrets[0].hpke_private_key
    );
    assert_eq!(second.config.tasks[1].experiment, "promo");
    assert!(!second.leader_yaml.contains(&first.config.tasks[0].task_id));
    assert!(second.leader_yaml.contains(&second.config.tasks[1].task_id));
    let again = provision(&registry(&["hero", "promo"]), l, h, Some(&second.credentials), 0).unwrap();
    assert_eq!((again.added, again.leader_yaml.as_str()), (0, ""), "nothing new");
    let moved = provision(
        &registry(&["hero"]),
        "http://other/",
        h,
        Some(&first.credentials),
        0,
    );
    assert!(moved.err().unwrap().to_string().contains("existing tasks"));
}

#[test]
fn segments_widen_the_cells_and_are_refused_past_4_kb() {
    let list = |variants: &str, segments: u8| {
        format!(
            r#"{{"tasks": [{{"id": "hero", "variants": {variants}, "vdaf": "histogram", "time_precision": 60,
                "min_batch_size": 100, "noise_epsilon": 1.0, "segments": {segments}}}]}}"#
        )
    };
    let p = provision(&list(r#"["A", "B"]"#, 8), "http://l/", "http://h/", None, 0).unwrap();
    assert_eq!(
        (p.config.tasks[0].vdaf.length(), p.config.tasks[0].segments),
        (112, 8)
    );
    assert!(p.leader_yaml.contains("length: 112\n"));
    // The public file names the axis, so the SDK places its cell there.
    assert!(serde_json::to_string(&p.config)
        .unwrap()
        .contains(r#""segments":8"#));
    // 4 variants × 8 segments: 224 cells, a 4,806-byte report.
    let err = provision(
        &list(r#"["A", "B", "C", "D"]"#, 8),
        "http://l/",
        "http://h/",
        None,
        0,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("over 4096 B"), "{err}");
    assert!(provision(&list(r#"["A"]"#, 9), "http://l/", "http://h/", None, 0).is_err());
}
