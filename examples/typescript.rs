//! Prints `pkg-template/types.d.ts`, the TypeScript types generated from the Rust types that cross the
//! wasm boundary: `npm run types` (or `cargo run --example typescript > pkg-template/types.d.ts`).

fn main() {
    match vitrine::typescript::typescript() {
        Ok(ts) => print!("{ts}"),
        Err(e) => {
            eprintln!("typescript: {e}");
            std::process::exit(1);
        }
    }
}
