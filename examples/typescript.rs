//! Prints `pkg-template/types.d.ts`, the TypeScript types generated from the Rust types that cross the
//! wasm boundary: `npm run types` (or `cargo run --example typescript > pkg-template/types.d.ts`).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    match vitrine::typescript::typescript() {
        Ok(ts) => print!("{ts}"),
        Err(e) => {
            eprintln!("typescript: {e}");
            std::process::exit(1);
        }
    }
}

// The generator is native-only (ts-rs derives are off on wasm32), but `cargo test --target wasm32` builds
// every example too.
#[cfg(target_arch = "wasm32")]
fn main() {}
