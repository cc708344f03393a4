//! One compiled compute pipeline and how to dispatch it within a [`Forward`]: bind the shape
//! uniform and the buffers in binding order and spread the workgroups over two grid dimensions
//! (a dimension holds at most 65,535).

use super::GpuContext;

/// Workgroups per grid row; shaders linearise `wg.x + wg.y * num_workgroups.x`.
const GRID_X: u32 = 32_768;

pub(crate) struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

impl Kernel {
    /// Compiles `source` (entry point `main`) after kernel.wgsl, with the bind group layout
    /// derived from the shader.
    pub fn new(device: &wgpu::Device, label: &str, source: &str) -> Self {
        let source = format!("{}\n{source}", include_str!("kernel.wgsl"));
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let layout = pipeline.get_bind_group_layout(0);
        Self { pipeline, layout }
    }

    /// Records one dispatch of `groups` workgroups (linearised) with the shape uniform at binding
    /// 0 and `buffers` at bindings 1, 2, …
    pub fn dispatch(&self, f: &mut Forward<'_, '_>, buffers: &[&wgpu::Buffer], groups: (u32, u32)) {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = std::iter::once(f.shape)
            .chain(buffers.iter().copied())
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let group = f.ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &entries,
        });
        f.pass.set_pipeline(&self.pipeline);
        f.pass.set_bind_group(0, &group, &[]);
        f.pass.dispatch_workgroups(groups.0, groups.1, 1);
    }
}

/// What every dispatch of one forward shares: the context, the compute pass being recorded, and
/// the shape uniform (`[batch, seq, batch · seq, 0]`, see [`super::shape_words`]) with its values.
pub struct Forward<'a, 'p> {
    pub ctx: &'a GpuContext,
    pub pass: &'a mut wgpu::ComputePass<'p>,
    pub shape: &'a wgpu::Buffer,
    pub batch: usize,
    pub seq: usize,
}

impl Forward<'_, '_> {
    /// Token rows: `batch · seq`.
    pub fn rows(&self) -> usize {
        self.batch * self.seq
    }
}

/// A grid of at least `count` workgroups, for shaders that linearise their workgroup id.
pub(crate) fn grid(count: usize) -> (u32, u32) {
    let count = count.max(1) as u32;
    if count <= GRID_X {
        (count, 1)
    } else {
        (GRID_X, count.div_ceil(GRID_X))
    }
}
