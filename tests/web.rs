//! In-browser tests: run in headless Chromium by `cargo test --target wasm32-unknown-unknown`
//! (wasm-bindgen-test-runner through chromedriver; see scripts/test.sh).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn engine_info_crosses_the_boundary() {
    let info = vitrine::web::engine_info().expect("engine info");
    let version = js_sys::Reflect::get(&info, &"version".into()).unwrap();
    assert_eq!(version.as_string().as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let simd = js_sys::Reflect::get(&info, &"simd128".into()).unwrap();
    assert_eq!(
        simd.as_bool(),
        Some(true),
        "the wasm build must enable simd128 (.cargo/config.toml)"
    );
    let arch = js_sys::Reflect::get(&info, &"arch".into()).unwrap();
    assert_eq!(arch.as_string().as_deref(), Some("wasm32"));
}
