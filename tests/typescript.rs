//! The committed TypeScript types (`pkg-template/types.d.ts`) are exactly what the Rust types generate:
//! a change to a type that crosses the wasm boundary fails here until `npm run types` is run, and
//! `tests/e2e/types.test.mjs` then type-checks the package's API (`index.d.ts`) against the new file.
#![cfg(not(target_arch = "wasm32"))]

#[test]
fn committed_types_match_the_rust_types() {
    let fresh = vitrine::typescript::typescript().expect("every type used is declared");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/pkg-template/types.d.ts");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "pkg-template/types.d.ts is stale (first difference at line {}): run `npm run types` and commit it",
            line + 1
        );
    }
}

#[test]
fn every_error_code_is_in_the_generated_union() {
    let ts = vitrine::typescript::typescript().unwrap();
    let union = ts
        .lines()
        .find(|l| l.starts_with("export type CoreErrorCode ="))
        .expect("CoreErrorCode is declared");
    for code in vitrine::error::ErrorCode::ALL {
        assert!(
            union.contains(&format!("\"{}\"", code.as_str())),
            "{} missing from {union}",
            code.as_str()
        );
    }
    assert_eq!(
        union.matches('"').count(),
        2 * vitrine::error::ErrorCode::ALL.len(),
        "{union}"
    );
}
