//! `vitrine-collector`: the server that turns noised device reports into per-variant statistics.
//!
//! Ingestion, de-biasing and the dashboard arrive with the reporting issue; until then the binary only
//! identifies itself, so the workspace layout (and its native-only dependency boundary) is in place.

fn main() {
    let version = vitrine::engine::EngineInfo::current().version;
    match std::env::args().nth(1).as_deref() {
        Some("--version") | Some("-V") => println!("vitrine-collector {version}"),
        _ => {
            eprintln!(
                "vitrine-collector {version}: report ingestion is not built yet (see the open issues)."
            );
            std::process::exit(2);
        }
    }
}
