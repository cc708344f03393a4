//! The package's TypeScript types, generated from the Rust types that cross the wasm boundary, so the two
//! cannot drift: `npm run types` (`cargo run --example typescript`) writes `pkg-template/types.d.ts`,
//! `tests/typescript.rs` fails when the committed file is not what this generates, and the hand-written
//! `pkg-template/index.d.ts` builds the public API on these types.

use std::collections::BTreeSet;

use ts_rs::{Config, TypeVisitor, TS};

/// One declaration and the names of the declared types it refers to.
struct Decl {
    name: String,
    text: String,
    uses: Vec<String>,
}

impl Decl {
    fn of<T: TS + 'static>(cfg: &Config) -> Self {
        struct Names<'a>(&'a Config, Vec<String>);
        impl TypeVisitor for Names<'_> {
            fn visit<U: TS + 'static + ?Sized>(&mut self) {
                // Only declared types (those with an output path) need a declaration of their own.
                if U::output_path().is_some() {
                    self.1.push(U::ident(self.0));
                }
            }
        }
        let mut names = Names(cfg, Vec::new());
        T::visit_dependencies(&mut names);
        let docs = T::docs().unwrap_or_default();
        Self {
            name: T::ident(cfg),
            text: format!("{docs}export {}\n", T::decl(cfg)),
            uses: names.1,
        }
    }
}

/// Every declared type, in the order the file lists them. A type used by one of these must be listed
/// too: [`typescript`] refuses to generate a file that refers to an undeclared name.
fn declarations(cfg: &Config) -> Vec<Decl> {
    use crate::{backend, copy, engine, error, history, rank, report, sdk};
    vec![
        // Errors.
        Decl::of::<error::ErrorCode>(cfg),
        // The engine and its settings.
        Decl::of::<engine::EngineInfo>(cfg),
        Decl::of::<sdk::Config>(cfg),
        Decl::of::<history::StoreConfig>(cfg),
        Decl::of::<sdk::Diagnostics>(cfg),
        Decl::of::<backend::select::BackendChoice>(cfg),
        Decl::of::<backend::select::Backend>(cfg),
        // Events and history.
        Decl::of::<history::Event>(cfg),
        Decl::of::<history::EventKind>(cfg),
        Decl::of::<history::Snapshot>(cfg),
        // Ranking.
        Decl::of::<rank::Candidate>(cfg),
        Decl::of::<rank::Placement>(cfg),
        Decl::of::<rank::Rules>(cfg),
        Decl::of::<rank::Filters>(cfg),
        Decl::of::<rank::Boost>(cfg),
        Decl::of::<rank::Pin>(cfg),
        Decl::of::<rank::Diversity>(cfg),
        Decl::of::<rank::Ranked>(cfg),
        Decl::of::<rank::Reason>(cfg),
        Decl::of::<rank::ReasonKind>(cfg),
        // Copy.
        Decl::of::<sdk::CopyVariant>(cfg),
        Decl::of::<sdk::CopyOptions>(cfg),
        Decl::of::<sdk::CopyPick>(cfg),
        Decl::of::<copy::Why>(cfg),
        Decl::of::<copy::ArmScore>(cfg),
        // Reports.
        Decl::of::<report::Report>(cfg),
        Decl::of::<report::Randomised>(cfg),
        Decl::of::<report::ReporterState>(cfg),
        Decl::of::<report::Pending>(cfg),
        Decl::of::<report::CellCounters>(cfg),
    ]
}

/// The contents of `pkg-template/types.d.ts`; an error names a type that is used but not declared.
pub fn typescript() -> Result<String, String> {
    // Every integer the engine hands out fits in a double (serde-wasm-bindgen refuses one that does not),
    // so the page sees plain numbers, never bigints.
    let cfg = Config::new().with_large_int("number");
    let decls = declarations(&cfg);
    let declared: BTreeSet<&str> = decls.iter().map(|d| d.name.as_str()).collect();
    for d in &decls {
        if let Some(missing) = d.uses.iter().find(|u| !declared.contains(u.as_str())) {
            return Err(format!(
                "{} uses {missing}, which src/typescript.rs does not declare: add it",
                d.name
            ));
        }
    }
    let mut out = String::from(
        "// Generated from the Rust types by `npm run types` (src/typescript.rs): do not edit by hand.\n\
         // The wire format of the values that cross the wasm boundary; index.d.ts builds the API on them.\n",
    );
    for d in decls {
        out.push('\n');
        out.push_str(&d.text);
    }
    Ok(out)
}
