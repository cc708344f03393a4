//! The crate's layering, checked on the source: the backends know no model (a model reaches a backend
//! only through `backend::Device` and its ops), and only `src/web/` touches wasm-bindgen.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// `(file, line)` of every line under `dir` that contains any of `needles`, comments included
/// (a doc link to a model is a dependency of the reader's mind too).
fn offending(dir: &str, needles: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = sources(&root.join(dir));
    assert!(!files.is_empty(), "{dir}: no sources found");
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("source");
            let name = f.strip_prefix(root).unwrap_or(f).display().to_string();
            text.lines()
                .enumerate()
                .filter(|(_, l)| needles.iter().any(|n| l.contains(n)))
                .map(|(i, l)| format!("{name}:{}: {}", i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_backends_do_not_import_the_models() {
    let found = offending(
        "src/backend",
        &["crate::model", "super::super::model", "vitrine::model"],
    );
    assert!(
        found.is_empty(),
        "backend/ reaches into model/:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_web_boundary_uses_wasm_bindgen() {
    let found: Vec<String> = ["src/backend", "src/model", "src/sdk", "src/rank", "src/copy"]
        .iter()
        .flat_map(|d| offending(d, &["#[wasm_bindgen", "use wasm_bindgen"]))
        .collect();
    assert!(
        found.is_empty(),
        "wasm-bindgen outside src/web:\n{}",
        found.join("\n")
    );
}
