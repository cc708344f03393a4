//! [`Device`]: where a model's forward pass runs. It owns the model's weights (the CPU's copy always,
//! the GPU's mirror while a GPU is attached), which backend serves the model and why, and the
//! calibration that picks it. A model writes its layers once against [`Ops`] and hands them to
//! [`Device::forward`] (or [`Device::forward_cpu`]).

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::cpu;
use super::ops::{Input, Ops};
use super::select::{time_ms, Backend, BackendChoice, Calibration, DevicePreference};
use super::select::{BATCH_SAMPLE, QUERY_SAMPLE};
use super::weights::Weights;
use crate::error::{Error, Result};

#[cfg(feature = "gpu")]
use super::gpu::{GpuContext, GpuWeights};
#[cfg(feature = "gpu")]
use std::sync::Arc;

const NO_GPU: &str = "no GPU attached to this encoder";

/// A model's weights and the backends that run them.
pub struct Device {
    weights: Weights,
    state: Mutex<State>,
}

/// Behind one lock so that a device shared with the engine (`Rc`) can gain or drop its GPU without
/// `&mut`; never held across an await.
struct State {
    /// An `Arc` so a forward in flight keeps its weights while the lock is free (it awaits the GPU).
    #[cfg(feature = "gpu")]
    gpu: Option<Arc<GpuWeights>>,
    /// What the model's `auto` path runs on; a GPU failure switches it to the CPU, with the reason.
    choice: BackendChoice,
    /// Why no GPU is attached, for the diagnostics of a later [`Device::select`].
    no_gpu: String,
}

impl Device {
    /// A device holding `weights`, on the CPU until a GPU is attached.
    pub fn new(weights: Weights) -> Self {
        Self {
            weights,
            state: Mutex::new(State {
                #[cfg(feature = "gpu")]
                gpu: None,
                choice: BackendChoice::cpu(NO_GPU, None),
                no_gpu: NO_GPU.into(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain values, always whole: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The weights, as the CPU runs them.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Finds a GPU (WebGPU in the browser, Vulkan natively) and attaches it; on failure the device
    /// stays on the CPU and its diagnostics say why.
    #[cfg(feature = "gpu")]
    pub async fn start_gpu(&self) -> Result<()> {
        let ctx = GpuContext::new()
            .await
            .inspect_err(|e| self.note_gpu_unavailable(e))?;
        // The Arc is the native API's (threads share a context there); in a browser there is one
        // thread, so the context not being Send + Sync on wasm is harmless.
        #[allow(clippy::arc_with_non_send_sync)]
        self.attach_gpu(Arc::new(ctx)).await
    }

    /// Uploads the weights to `ctx` so that [`Backend::Webgpu`] can run: from the CPU's copy, one
    /// matrix at a time, never from the model file. On failure the device stays on the CPU and its
    /// diagnostics say why. The `auto` path then uses the GPU until [`Device::select`] or a GPU
    /// failure says otherwise.
    #[cfg(feature = "gpu")]
    pub async fn attach_gpu(&self, ctx: Arc<GpuContext>) -> Result<()> {
        if self.state().gpu.is_some() {
            return Ok(());
        }
        let adapter = ctx.adapter();
        let gpu = GpuWeights::upload(ctx, &self.weights)
            .await
            .inspect_err(|e| self.note_gpu_unavailable(e))?;
        let mut state = self.state();
        // Two attaches racing (only possible through misuse) keep the first; both hold the same weights.
        #[allow(clippy::arc_with_non_send_sync)] // wasm: one thread; natively GpuWeights is Send + Sync
        state.gpu.get_or_insert_with(|| Arc::new(gpu));
        state.choice = BackendChoice {
            backend: Backend::Webgpu,
            reason: "GPU attached (not calibrated)".into(),
            adapter: Some(adapter),
            cpu_ms: None,
            gpu_ms: None,
        };
        Ok(())
    }

    /// Drops the GPU weights (their buffers are freed once no forward holds them), e.g. when
    /// calibration chose the CPU for every workload: the device then runs on the CPU, and `why`
    /// becomes the reason a later [`Device::select`] gives. Returns whether a GPU was attached.
    pub fn detach_gpu(&self, why: &str) -> bool {
        let mut state = self.state();
        #[cfg(feature = "gpu")]
        if state.gpu.take().is_some() {
            state.no_gpu = format!("GPU released: {why}");
            state.choice.backend = Backend::Cpu;
            return true;
        }
        let _ = (&mut state, why);
        false
    }

    /// The GPU adapter the device can run on, if one is attached.
    pub fn gpu_adapter(&self) -> Option<String> {
        #[cfg(feature = "gpu")]
        if let Some(g) = self.state().gpu.as_ref() {
            return Some(g.context().adapter());
        }
        None
    }

    /// Records why no GPU could be attached (no adapter, no device, an unsupported model): the
    /// diagnostics then say it instead of "no GPU attached".
    pub fn note_gpu_unavailable(&self, why: &Error) {
        let mut state = self.state();
        state.no_gpu = why.to_string();
        state.choice = BackendChoice::cpu(why.to_string(), None);
    }

    /// Which backend the `auto` path runs on, and why.
    pub fn diagnostics(&self) -> BackendChoice {
        self.state().choice.clone()
    }

    /// After the GPU failed with `e`: the CPU serves from now on, with the reason.
    pub fn fall_back_to_cpu(&self, e: &Error) {
        let mut state = self.state();
        let adapter = state.choice.adapter.take();
        state.choice = BackendChoice::cpu(format!("the GPU failed, CPU fallback from now on: {e}"), adapter);
    }

    /// Runs a model's forward pass `record` on the CPU over `input`, with activation slots of `widths`
    /// floats per token row; returns what it pooled.
    pub fn forward_cpu(
        &self,
        input: Input<'_>,
        widths: &[usize],
        record: &dyn Fn(&mut dyn Ops) -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        cpu::forward::forward(&self.weights, input, widths, record)
    }

    /// [`Device::forward_cpu`] on `backend` exactly, failing (no fallback) if it cannot run there.
    pub async fn forward(
        &self,
        backend: Backend,
        input: Input<'_>,
        widths: &[usize],
        record: &dyn Fn(&mut dyn Ops) -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        match backend {
            Backend::Cpu => self.forward_cpu(input, widths, record),
            #[cfg(feature = "gpu")]
            Backend::Webgpu => {
                let gpu = self
                    .state()
                    .gpu
                    .clone()
                    .ok_or_else(|| Error::GpuUnavailable(NO_GPU.into()))?;
                gpu.forward(input, widths, record).await
            }
            #[cfg(not(feature = "gpu"))]
            Backend::Webgpu => Err(Error::GpuUnavailable(
                "this build has no GPU backend (feature `gpu`)".into(),
            )),
        }
    }

    /// Chooses the backend of the `auto` path for `pref`: `auto` times a few runs of `on_cpu` and
    /// `on_gpu` (the same representative work on each) and keeps the faster.
    pub async fn select<T, C, CF, G, GF>(&self, pref: DevicePreference, on_cpu: C, on_gpu: G) -> BackendChoice
    where
        C: FnMut() -> CF,
        CF: Future<Output = Result<T>>,
        G: FnMut() -> GF,
        GF: Future<Output = Result<T>>,
    {
        let adapter = self.gpu_adapter();
        let gpu_error = adapter.is_none().then(|| self.state().no_gpu.clone());
        let timings = if pref == DevicePreference::Auto && gpu_error.is_none() {
            let cpu = time_ms(3, on_cpu).await.unwrap_or(f64::INFINITY);
            Some((cpu, time_ms(3, on_gpu).await))
        } else {
            None
        };
        let choice = BackendChoice::decide(pref, adapter, gpu_error, timings);
        self.state().choice = choice.clone();
        choice
    }

    /// Chooses a backend per workload (one query, a batch of titles) for `pref`, `embed` running
    /// the samples on a backend. When the CPU wins both, the GPU's copy of the weights is released.
    pub async fn calibrate<T, E, EF>(&self, pref: DevicePreference, embed: E) -> Calibration
    where
        E: Fn(&'static [&'static str], Backend) -> EF,
        EF: Future<Output = Result<T>>,
    {
        let run = |sample: &'static [&'static str]| {
            let embed = &embed;
            (
                move || embed(sample, Backend::Cpu),
                move || embed(sample, Backend::Webgpu),
            )
        };
        let (cpu, gpu) = run(&QUERY_SAMPLE);
        let mut query = self.select(pref, cpu, gpu).await;
        let (cpu, gpu) = run(&BATCH_SAMPLE);
        let mut batch = self.select(pref, cpu, gpu).await;
        let cpu_won = query.backend == Backend::Cpu && batch.backend == Backend::Cpu;
        if cpu_won && self.detach_gpu("the CPU was faster for every workload") {
            for c in [&mut query, &mut batch] {
                c.reason.push_str("; GPU released");
            }
        }
        Calibration { query, batch }
    }
}
