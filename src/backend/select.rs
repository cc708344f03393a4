//! Which backend computes the encoder's vectors: the caller's preference (`auto`, `webgpu`,
//! `cpu`), and for `auto` a short calibration that times both on a representative input per
//! workload ([`QUERY_SAMPLE`], [`BATCH_SAMPLE`]). The outcome, [`BackendChoice`] (one per workload in
//! a [`Calibration`]), is serialisable so the browser can show it as diagnostics.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A compute backend for the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The CPU kernels (src/backend/cpu): always available.
    Cpu,
    /// The WGSL kernels (src/backend/gpu) on WebGPU, or natively on Vulkan.
    Webgpu,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Cpu => "cpu",
            Backend::Webgpu => "webgpu",
        })
    }
}

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    /// The GPU when there is one and the calibration finds it faster, else the CPU.
    #[default]
    Auto,
    /// The GPU whenever it works (falling back to the CPU when it does not).
    Webgpu,
    /// The CPU only.
    Cpu,
}

impl FromStr for DevicePreference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "webgpu" | "gpu" => Ok(Self::Webgpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(Error::InvalidInput(format!(
                "device `{other}`: use `auto`, `webgpu` (or `gpu`) or `cpu`"
            ))),
        }
    }
}

/// The calibration's single query: a typical search.
pub const QUERY_SAMPLE: [&str; 1] = ["red ceramic mug with a hand painted bird"];
/// The calibration's batch: typical catalog titles (from the Online Retail demo data).
pub const BATCH_SAMPLE: [&str; 16] = [
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "REGENCY CAKESTAND 3 TIER",
    "JUMBO BAG RED RETROSPOT",
    "PARTY BUNTING",
    "ASSORTED COLOUR BIRD ORNAMENT",
    "SET OF 3 CAKE TINS PANTRY DESIGN",
    "PACK OF 72 RETROSPOT CAKE CASES",
    "LUNCH BAG RED RETROSPOT",
    "NATURAL SLATE HEART CHALKBOARD",
    "HEART OF WICKER SMALL",
    "JAM MAKING SET WITH JARS",
    "PAPER CHAIN KIT 50'S CHRISTMAS",
    "SET OF 4 PANTRY JELLY MOULDS",
    "SPOTTY BUNTING",
    "RABBIT NIGHT LIGHT",
    "CHRISTMAS LIGHTS 10 REINDEER",
];

/// The backend for each workload a page runs: one query (search), a batch (catalog titles).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub query: BackendChoice,
    pub batch: BackendChoice,
}

/// Which backend runs, and why: the diagnostics a page or the CLI shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[cfg_attr(not(target_arch = "wasm32"), ts(optional_fields = nullable))]
pub struct BackendChoice {
    pub backend: Backend,
    pub reason: String,
    /// The GPU adapter, when one was found.
    pub adapter: Option<String>,
    /// Calibration: milliseconds per forward of the sample on each backend, when measured.
    pub cpu_ms: Option<f64>,
    pub gpu_ms: Option<f64>,
}

impl BackendChoice {
    /// The CPU, for `reason`.
    pub fn cpu(reason: impl Into<String>, adapter: Option<String>) -> Self {
        Self {
            backend: Backend::Cpu,
            reason: reason.into(),
            adapter,
            cpu_ms: None,
            gpu_ms: None,
        }
    }

    /// The decision for `pref` given the GPU's state and, for `auto`, the calibration timings
    /// (`None` when one backend could not be timed).
    pub fn decide(
        pref: DevicePreference,
        adapter: Option<String>,
        gpu_error: Option<String>,
        timings: Option<(f64, Result<f64>)>,
    ) -> Self {
        if pref == DevicePreference::Cpu {
            return Self::cpu("the CPU was requested", adapter);
        }
        if let Some(e) = gpu_error {
            return Self::cpu(format!("no usable GPU, CPU fallback: {e}"), adapter);
        }
        let mut choice = Self {
            backend: Backend::Webgpu,
            reason: "the GPU was requested and works".into(),
            adapter,
            cpu_ms: None,
            gpu_ms: None,
        };
        match timings {
            Some((cpu, Ok(gpu))) => {
                (choice.cpu_ms, choice.gpu_ms) = (Some(cpu), Some(gpu));
                if pref == DevicePreference::Auto && gpu >= cpu {
                    choice.backend = Backend::Cpu;
                    choice.reason = format!("calibration: CPU {cpu:.2} ms ≤ GPU {gpu:.2} ms per forward");
                } else if pref == DevicePreference::Auto {
                    choice.reason = format!("calibration: GPU {gpu:.2} ms < CPU {cpu:.2} ms per forward");
                }
            }
            Some((cpu, Err(e))) => {
                choice = Self::cpu(
                    format!("the GPU failed during calibration, CPU fallback: {e}"),
                    choice.adapter,
                );
                choice.cpu_ms = Some(cpu);
            }
            None => {}
        }
        choice
    }
}

/// Milliseconds from an arbitrary origin (`performance`-style clock; `Instant` panics on wasm).
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
    }
}

/// The median of `runs` timed calls of `f` after one warm-up call (which also grows buffers).
pub async fn time_ms<F, Fut, T>(runs: usize, mut f: F) -> Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    f().await?;
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let t = now_ms();
        f().await?;
        times.push(now_ms() - t);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_the_faster_backend_and_says_why() {
        let a = Some("lavapipe".to_string());
        let fast_gpu = BackendChoice::decide(DevicePreference::Auto, a.clone(), None, Some((5.0, Ok(2.0))));
        assert_eq!(fast_gpu.backend, Backend::Webgpu);
        let slow_gpu = BackendChoice::decide(DevicePreference::Auto, a.clone(), None, Some((2.0, Ok(5.0))));
        assert_eq!(slow_gpu.backend, Backend::Cpu);
        assert!(slow_gpu.reason.contains("calibration"), "{}", slow_gpu.reason);
        // Asked for explicitly, the GPU runs even when slower.
        let forced = BackendChoice::decide(DevicePreference::Webgpu, a.clone(), None, Some((2.0, Ok(5.0))));
        assert_eq!(forced.backend, Backend::Webgpu);
        let none = BackendChoice::decide(DevicePreference::Webgpu, None, Some("no adapter".into()), None);
        assert_eq!(none.backend, Backend::Cpu);
        assert!(none.reason.contains("no adapter"));
        let json = serde_json::to_value(&slow_gpu).unwrap();
        assert_eq!(json["backend"], "cpu");
        assert_eq!(json["gpu_ms"], 5.0);
        assert_eq!(
            "gpu".parse::<DevicePreference>().unwrap(),
            DevicePreference::Webgpu
        );
        assert!("tpu".parse::<DevicePreference>().is_err());
    }
}
