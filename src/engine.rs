//! What this build of the engine is: version, SIMD support and the compute backends it carries.

use serde::Serialize;

/// A description of the running engine, shown by the demo page and returned by `Vitrine.info()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "CoreInfo"))]
pub struct EngineInfo {
    /// The crate version, which is also the npm package version.
    pub version: &'static str,
    /// Whether the build uses 128-bit SIMD (wasm simd128 in the browser, always true natively on x86_64).
    pub simd128: bool,
    /// The target the engine was compiled for, e.g. `wasm32` or `x86_64`.
    pub arch: &'static str,
}

impl EngineInfo {
    /// Describes the engine this code was compiled into.
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
            simd128: cfg!(any(
                target_feature = "simd128",
                target_feature = "sse2",
                target_feature = "neon"
            )),
            arch: std::env::consts::ARCH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page reads these names (`info().simd128`, …): renaming a field must fail here, not there.
    #[test]
    fn serialises_under_the_names_the_page_reads() {
        let json = serde_json::to_value(EngineInfo::current()).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["arch", "simd128", "version"]);
        assert!(json["simd128"].is_boolean());
    }
}
