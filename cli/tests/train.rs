//! `vitrine train` on slices of Beauty: it never reads a validation or test target, `--init` resumes
//! from (or grows) a model file exactly, and training learns a transition rule the titles cannot predict.
//!
//! The slice keeps Beauty's item list, so the item vectors come from the cache `vitrine eval` fills
//! (`.cache/vectors/`, the eval test's first run); without it the first test here encodes them (minutes).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Users in a slice of Beauty: enough for validation NDCG to move, few enough for seconds per epoch
/// (the full-softmax phase scores all 12,101 items per batch; CI's budget for these tests is minutes).
const USERS: usize = 1000;

/// Sessions in [`chains`]: enough batches for three epochs to learn the rule.
const CHAIN_USERS: usize = 3000;

/// A data directory named `beauty` (the vector cache is keyed by name, ids and titles) with Beauty's
/// item list and these user lines (`user item item …`).
fn data_dir(case: &str, lines: &[String]) -> PathBuf {
    let src = common::repo().join("../shared/data/beauty");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("train-{case}"))
        .join("beauty");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(src.join("beauty_items.tsv"), dir.join("beauty_items.tsv")).expect("Beauty items");
    std::fs::write(dir.join("sequential_data.txt"), lines.join("\n") + "\n").unwrap();
    dir
}

/// Beauty's first [`USERS`] users; `swap_targets` replaces every user's last two items (validation and
/// test targets) by the next user's.
fn slice(case: &str, swap_targets: bool) -> PathBuf {
    slice_swapping(case, if swap_targets { 2 } else { 0 })
}

/// Beauty's first [`USERS`] users, each one's last `swap` items replaced by the next user's.
fn slice_swapping(case: &str, swap: usize) -> PathBuf {
    let data = std::fs::read_to_string(common::repo().join("../shared/data/beauty/sequential_data.txt"))
        .expect("Beauty sequences");
    let users: Vec<Vec<&str>> = data
        .lines()
        .take(USERS)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let lines: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mut u = u.clone();
            if swap > 0 {
                let next = &users[(i + 1) % users.len()];
                let (n, m) = (u.len(), next.len());
                u[n - swap..].copy_from_slice(&next[m - swap..]);
            }
            u.join(" ")
        })
        .collect();
    data_dir(case, &lines)
}

/// Sessions that follow one fixed rule over Beauty's first 200 items, `i → (7i + 3) mod 200`, which
/// has nothing to do with the titles: only what training learns can predict the next item.
fn chains(case: &str) -> PathBuf {
    let tsv = std::fs::read_to_string(common::repo().join("../shared/data/beauty/beauty_items.tsv")).unwrap();
    let ids: Vec<&str> = tsv
        .lines()
        .skip(1)
        .take(200)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let lines: Vec<String> = (0..CHAIN_USERS)
        .map(|u| {
            let mut i = (u * 13) % 200;
            let mut line = format!("{}", u + 1);
            for _ in 0..5 + u % 4 {
                line += &format!(" {}", ids[i]);
                i = (7 * i + 3) % 200;
            }
            line
        })
        .collect();
    data_dir(case, &lines)
}

/// Runs `vitrine train` with a small architecture; returns stderr (per-epoch validation lines).
fn train(data: &Path, out: &Path, extra: &[&str]) -> String {
    let (ok, err) = try_train(data, out, extra);
    assert!(ok, "{err}");
    err
}

/// [`train`] that may fail: whether it succeeded, and stderr.
fn try_train(data: &Path, out: &Path, extra: &[&str]) -> (bool, String) {
    let repo = common::repo();
    // A small architecture; `extra` overrides any of these flags.
    let defaults: Vec<&str> = [
        ("--width", "32"),
        ("--heads", "2"),
        ("--ffn", "64"),
        ("--out-dims", "32"),
        ("--adapter-hidden", "64"),
        ("--negatives", "512"),
        ("--batch", "64"),
        ("--seed", "5"),
        ("--schedule", "fixed"),
        ("--content-mix", "0"),
        ("--lexical-mix", "0"),
    ]
    .into_iter()
    .filter(|(flag, _)| !extra.contains(flag))
    .flat_map(|(flag, value)| [flag, value])
    .collect();
    let res = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .arg("train")
        .args(["--data".as_ref(), data.as_os_str()])
        .args(["--out".as_ref(), out.as_os_str()])
        .args([
            "--encoder".as_ref(),
            repo.join("models/minilm-l6-q8_0.gguf").as_os_str(),
        ])
        .args(["--cache-dir".as_ref(), repo.join(".cache/vectors").as_os_str()])
        .args(defaults)
        .args(extra)
        .output()
        .expect("running vitrine train");
    (
        res.status.success(),
        String::from_utf8_lossy(&res.stderr).into_owned(),
    )
}

/// The validation NDCG@10 of every epoch, from lines `epoch N: loss L, valid ndcg@10 X …`.
fn valid_ndcg(log: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.starts_with("epoch "))
        .filter_map(|l| l.split("valid ndcg@10 ").nth(1))
        .map(|r| r.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn training_never_reads_validation_or_test_targets() {
    // One epoch and no mix search: the first epoch's model is written whatever its validation score,
    // so the output depends on the training prefixes alone. Swapping every target must not change a bit.
    let a = slice("targets-kept", false);
    let b = slice("targets-swapped", true);
    assert_ne!(
        read(&a.join("sequential_data.txt")),
        read(&b.join("sequential_data.txt"))
    );
    let log_a = train(&a, &a.join("m.gguf"), &["--epochs", "1"]);
    let log_b = train(&b, &b.join("m.gguf"), &["--epochs", "1"]);
    assert_same_models(&a, &b);
    // The validation score itself does read the (swapped) targets: the check above is not vacuous.
    assert_ne!(valid_ndcg(&log_a), valid_ndcg(&log_b));
}

#[test]
fn init_resumes_exactly_and_training_improves_on_it() {
    let data = chains("init");
    // lr 0: the starting model itself, written back unchanged and scored on validation.
    let start = train(&data, &data.join("start.gguf"), &["--epochs", "1", "--lr", "0"]);
    let start_f32 = data.join("start-f32.gguf");
    let init = ["--init", start_f32.to_str().unwrap()];
    let run = |out: &str, args: &[&str]| train(&data, &data.join(out), &[args, &init].concat());
    // Another seed: only the loaded tensors can make the file come out the same.
    let again = run("again.gguf", &["--epochs", "1", "--lr", "0", "--seed", "6"]);
    assert!(again.contains("tensors from"), "{again}");
    let same = read(&start_f32) == read(&data.join("again-f32.gguf"));
    assert!(same, "--init did not load every tensor");
    assert_eq!(valid_ndcg(&start), valid_ndcg(&again));
    // Settings no shape reveals must match the file's.
    let bad = [&["--epochs", "1", "--heads", "4"][..], &init].concat();
    let (ok, err) = try_train(&data, &data.join("bad.gguf"), &bad);
    assert!(!ok && err.contains("--init was trained as"), "{err}");
    // From that start, the learning rate decaying along a cosine.
    let log = run(
        "trained.gguf",
        &["--epochs", "3", "--lr", "2e-3", "--lr-min", "1e-4"],
    );
    let (before, after) = (valid_ndcg(&start)[0], valid_ndcg(&log));
    eprintln!("validation NDCG@10 on the chains: start {before:.4}, epochs {after:?}");
    let best = after.iter().cloned().fold(0.0, f64::max);
    assert!(
        best > 0.5 && best > 5.0 * before,
        "training did not learn the rule: {before} → {after:?}"
    );
    // Growing the trained model by a layer, a wider feed-forward block and a wider item adapter: the
    // new residual branches and the new hidden units' output weights start at zero, so it still
    // scores exactly as it did.
    let trained = data.join("trained-f32.gguf");
    let trained = trained.to_str().unwrap();
    let grow = ["--epochs", "1", "--lr", "0", "--init", trained];
    let wider = ["--layers", "2", "--ffn", "96", "--adapter-hidden", "128"];
    let grown = train(&data, &data.join("grown.gguf"), &[&grow[..], &wider].concat());
    assert!(grown.contains(", 6 grown,"), "{grown}");
    assert_eq!(valid_ndcg(&grown), [best], "{grown}");
    // Shrinking would drop trained units: refused.
    let narrower = [&grow[..], &["--adapter-hidden", "32"]].concat();
    let (ok, err) = try_train(&data, &data.join("narrow.gguf"), &narrower);
    assert!(!ok && err.contains("does not fit"), "{err}");
    // No epochs: the file's weights as they are, scored, then only the mixes chosen.
    let mixes = [
        "--epochs",
        "0",
        "--init",
        trained,
        "--lexical-mix",
        "0,0.2",
        "--lexical-decay",
        "0,0.5",
    ];
    let log = train(&data, &data.join("mixed.gguf"), &mixes);
    assert!(
        log.contains(&format!("--init weights, no mixes: valid ndcg@10 {best:.4}")),
        "{log}"
    );
    for decay in ["0", "0.5"] {
        assert!(
            log.contains(&format!("lexical 0.2 decay {decay}: valid ndcg@10")),
            "{log}"
        );
    }
    let (ok, err) = try_train(&data, &data.join("none.gguf"), &["--epochs", "0"]);
    assert!(!ok && err.contains("--epochs 0 only"), "{err}");
}

#[test]
fn the_default_recipe_is_one_deterministic_command_that_never_reads_test_targets() {
    // The whole default command (phases, early stopping, mixes, card) on a slice, twice: once with every
    // test target swapped for another user's. Same seed, same bytes: the run depends on the seed and
    // the training and validation items alone.
    let a = slice_swapping("auto-kept", 0);
    let b = slice_swapping("auto-swapped", 1);
    assert_ne!(
        read(&a.join("sequential_data.txt")),
        read(&b.join("sequential_data.txt"))
    );
    let flags = [
        "--schedule",
        "auto",
        "--epochs",
        "2",
        "--content-mix",
        "0,0.2",
        "--lexical-mix",
        "0,0.2",
    ];
    let log = train(&a, &a.join("m.gguf"), &flags);
    train(&b, &b.join("m.gguf"), &flags);
    assert_same_models(&a, &b);
    // Three phases, each ending on validation, then the mixes.
    for phase in ["(explore)", "(anneal)", "(full softmax)"] {
        assert!(log.contains(phase), "{phase} missing: {log}");
    }
    assert!(log.contains("lexical 0.2 decay"), "{log}");
    // The model card beside the file compares it with the zero-shot default and item-kNN on validation.
    let card = String::from_utf8(read(&a.join("m.md"))).unwrap();
    for row in [
        "| this model (`m.gguf`, q8_0) |",
        "| zero-shot default (no model) |",
        "| item-kNN on the same training data |",
    ] {
        assert!(card.contains(row), "{row} missing: {card}");
    }
    assert!(card.contains(&format!("{USERS} users, 12101 items")), "{card}");
}

/// Both data sets' trained files (`m.gguf` and its f32 twin) are byte-identical.
fn assert_same_models(a: &Path, b: &Path) {
    for file in ["m.gguf", "m-f32.gguf"] {
        assert_eq!(read(&a.join(file)), read(&b.join(file)), "{file} differs");
    }
}
