//! The WebGPU backend: one wgpu context (adapter, device, queue, compiled kernels) reused by every
//! GPU encoder, and the WGSL kernels of the encoder's forward pass, one `.wgsl` beside one `.rs`.
//!
//! The same kernels run in the browser on WebGPU and natively on Vulkan (Mesa's lavapipe in tests).
//! No kernel needs f16 (SwiftShader, Chromium's software adapter, has no `shader-f16`): weights stay
//! in their GGUF blocks and are dequantized in the shaders, everything else is f32.
//!
//! Nothing here panics: wgpu's default handler for errors outside an error scope panics, so the
//! context installs one that records the error instead, and every later call reports it
//! ([`GpuContext::failure`]) so that callers can fall back to the CPU path.

pub mod attention;
mod forward;
pub mod gelu;
mod kernel;
pub mod layer_norm;
pub mod matmul;
pub mod pool;

use std::sync::{Arc, Mutex};

pub use forward::GpuWeights;
pub use kernel::{BindGroups, Forward};
pub use wgpu;
use wgpu::util::DeviceExt;

use crate::error::{Error, Result};

/// The compiled kernels; built once per context.
pub struct Kernels {
    pub matmul: matmul::Matmul,
    pub layer_norm: layer_norm::LayerNorm,
    pub gelu: gelu::Gelu,
    pub attention: attention::Attention,
    pub pool: pool::Pool,
}

/// One GPU device and its queue, with the encoder's kernels compiled for it.
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// The first error wgpu reported outside an error scope, or the reason the device was lost.
    failure: Arc<Mutex<Option<String>>>,
    kernels: Kernels,
}

impl GpuContext {
    /// Finds an adapter (WebGPU in the browser, Vulkan natively), opens a device with conservative
    /// limits (what SwiftShader and lavapipe offer) and compiles the kernels.
    ///
    /// Fails with [`Error::GpuUnavailable`] when there is no adapter or no device, and with
    /// [`Error::Gpu`] when a kernel does not compile on it.
    pub async fn new() -> Result<Self> {
        // wgpu's WebGPU instance panics outside a window or dedicated worker, and a browser may
        // expose `navigator.gpu` without any adapter: ask first, so that both become an error.
        #[cfg(target_arch = "wasm32")]
        if !wgpu::util::is_browser_webgpu_supported().await {
            return Err(Error::GpuUnavailable(
                "this browser offers no WebGPU adapter here (navigator.gpu is missing or returns none)"
                    .into(),
            ));
        }
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::VULKAN | wgpu::Backends::BROWSER_WEBGPU;
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::GpuUnavailable(format!("no adapter: {e}")))?;
        let offered = adapter.limits();
        // The downlevel set works on every WebGPU and Vulkan 1.1 implementation; only the buffer
        // sizes are raised, to what this adapter offers (batches are split to fit them).
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: offered.max_storage_buffer_binding_size,
            max_buffer_size: offered.max_buffer_size,
            max_storage_buffers_per_shader_stage: offered.max_storage_buffers_per_shader_stage.min(8),
            ..wgpu::Limits::downlevel_defaults()
        };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("vitrine"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::GpuUnavailable(format!("the adapter refused a device: {e}")))?;
        let failure = Arc::new(Mutex::new(None::<String>));
        let record = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            note(&record, format!("uncaptured GPU error: {e}"))
        }));
        let record = Arc::clone(&failure);
        device.set_device_lost_callback(move |reason, msg| {
            note(&record, format!("GPU device lost ({reason:?}): {msg}"))
        });
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let kernels = Kernels {
            matmul: matmul::Matmul::new(&device),
            layer_norm: layer_norm::LayerNorm::new(&device),
            gelu: gelu::Gelu::new(&device),
            attention: attention::Attention::new(&device),
            pool: pool::Pool::new(&device),
        };
        if let Some(e) = scope.pop().await {
            return Err(Error::Gpu(format!(
                "a kernel does not compile on this adapter: {e}"
            )));
        }
        Ok(Self {
            device,
            queue,
            info: adapter.get_info(),
            limits,
            failure,
            kernels,
        })
    }

    /// The adapter in words, e.g. `llvmpipe (LLVM 19.1.7, 256 bits) (Vulkan, Cpu)`.
    pub fn adapter(&self) -> String {
        let i = &self.info;
        let driver = [i.driver.as_str(), i.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let driver = if driver.is_empty() {
            String::new()
        } else {
            format!(" [{driver}]")
        };
        format!("{}{driver} ({:?}, {:?})", i.name, i.backend, i.device_type)
    }

    /// Whether the adapter is software on the CPU (lavapipe, SwiftShader): it works, but its
    /// timings say nothing about a real GPU.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Why this context can no longer be trusted (device lost, an uncaptured error), if it cannot.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// The device's limits as granted.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    pub fn kernels(&self) -> &Kernels {
        &self.kernels
    }

    /// A storage buffer holding `data`, which may not be empty.
    pub fn storage<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        })
    }

    /// A 16-byte uniform of four words (kernel parameters; floats as `f32::to_bits`).
    pub fn uniform(&self, label: &str, words: [u32; 4]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(&words),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// An uninitialised read-write storage buffer of `bytes` (at least 4), copyable both ways.
    pub fn scratch(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Encodes one compute pass with `record`, copies `read` (bytes from the start of `src`) into
    /// `staging`, submits it all at once and returns those bytes as f32 once the GPU is done.
    /// Errors from validation, memory or a lost device come back as [`Error::Gpu`].
    pub async fn run_and_read(
        &self,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>),
        src: &wgpu::Buffer,
        staging: &wgpu::Buffer,
        floats: usize,
    ) -> Result<Vec<f32>> {
        let record = |pass: &mut wgpu::ComputePass<'_>| {
            record(pass);
            Ok(())
        };
        self.try_run_and_read(record, src, staging, floats).await
    }

    /// [`GpuContext::run_and_read`] for a `record` that may fail: then nothing is submitted and its
    /// error is returned.
    pub async fn try_run_and_read(
        &self,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>) -> Result<()>,
        src: &wgpu::Buffer,
        staging: &wgpu::Buffer,
        floats: usize,
    ) -> Result<Vec<f32>> {
        if let Some(f) = self.failure() {
            return Err(Error::Gpu(f));
        }
        let bytes = (floats * 4) as u64;
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let mut enc = self.device.create_command_encoder(&Default::default());
        let recorded = {
            let mut pass = enc.begin_compute_pass(&Default::default());
            record(&mut pass)
        };
        if recorded.is_ok() {
            enc.copy_buffer_to_buffer(src, 0, staging, 0, bytes);
            self.queue.submit([enc.finish()]);
        }
        let oom = memory.pop().await;
        let scoped = validation.pop().await.or(oom);
        recorded?;
        if let Some(e) = scoped {
            return Err(Error::Gpu(e.to_string()));
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
            let _ = tx.send(r);
        });
        // Natively the device has to be driven to run the callback; in a browser it is a no-op
        // and the callback arrives through the event loop while the future waits.
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("reading results back: {e}"))),
            Err(_) => return Err(Error::Gpu("the GPU dropped the readback".into())),
        }
        let out = {
            let view = staging
                .get_mapped_range(0..bytes)
                .map_err(|e| Error::Gpu(format!("reading results back: {e}")))?;
            bytemuck::pod_collect_to_vec::<u8, f32>(&view)
        };
        staging.unmap();
        match self.failure() {
            Some(f) => Err(Error::Gpu(f)),
            None => Ok(out),
        }
    }

    /// A buffer the CPU can map to read `bytes` back.
    pub fn staging(&self, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vitrine readback"),
            size: bytes.max(4).next_multiple_of(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }
}

fn note(slot: &Mutex<Option<String>>, msg: String) {
    if let Ok(mut f) = slot.lock() {
        f.get_or_insert(msg);
    }
}

/// The shared per-forward shape uniform every kernel reads: `[batch, seq, rows, 0]`.
pub fn shape_words(batch: usize, seq: usize) -> [u32; 4] {
    [batch as u32, seq as u32, (batch * seq) as u32, 0]
}
