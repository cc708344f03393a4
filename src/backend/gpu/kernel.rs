//! One compiled compute pipeline and how to dispatch it within a [`Forward`]: bind the shape
//! uniform and the buffers in binding order (bind groups kept across forwards over the same
//! buffers) and spread the workgroups over two grid dimensions (a dimension holds at most 65,535).

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
        let all: Vec<&wgpu::Buffer> = std::iter::once(f.shape).chain(buffers.iter().copied()).collect();
        let create = || {
            let entries: Vec<wgpu::BindGroupEntry<'_>> = all
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: b.as_entire_binding(),
                })
                .collect();
            f.ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &self.layout,
                entries: &entries,
            })
        };
        let fresh;
        let group = match f.binds.as_deref_mut() {
            Some(cache) => cache.get_or_create(&self.layout, &all, create),
            None => {
                fresh = create();
                &fresh
            }
        };
        f.pass.set_pipeline(&self.pipeline);
        f.pass.set_bind_group(0, group, &[]);
        f.pass.dispatch_workgroups(groups.0, groups.1, 1);
    }
}

/// The bind groups of one forward in dispatch order, reused by the next forward over the same
/// buffers: a query's forward makes ~49 dispatches, and creating each bind group again (validated
/// by WebGPU every time) costs more than recording the dispatch. Each group is kept with handles to
/// the layout and buffers it bound, compared by identity, so a group is reused only for those very
/// buffers (a handle keeps its buffer alive: no other buffer can take its place).
#[derive(Default)]
pub struct BindGroups {
    groups: Vec<(wgpu::BindGroupLayout, Vec<wgpu::Buffer>, wgpu::BindGroup)>,
    next: usize,
}

impl BindGroups {
    /// Starts a forward: dispatches are matched against the kept groups from the first one again.
    pub fn rewind(&mut self) -> &mut Self {
        self.next = 0;
        self
    }

    /// The groups kept, in dispatch order.
    pub fn kept(&self) -> Vec<&wgpu::BindGroup> {
        self.groups.iter().map(|(_, _, g)| g).collect()
    }

    /// The kept group at this dispatch when it bound the same layout and buffers, else a new one
    /// (replacing it: a forward that takes another path rebuilds from there on).
    fn get_or_create(
        &mut self,
        layout: &wgpu::BindGroupLayout,
        buffers: &[&wgpu::Buffer],
        create: impl FnOnce() -> wgpu::BindGroup,
    ) -> &wgpu::BindGroup {
        let i = self.next;
        self.next += 1;
        let same = |(l, b, _): &(wgpu::BindGroupLayout, Vec<wgpu::Buffer>, _)| {
            l == layout && b.iter().eq(buffers.iter().copied())
        };
        if !self.groups.get(i).is_some_and(same) {
            self.groups.truncate(i);
            self.groups.push((
                layout.clone(),
                buffers.iter().map(|b| (*b).clone()).collect(),
                create(),
            ));
        }
        &self.groups[i].2
    }
}

/// What every dispatch of one forward shares: the context, the compute pass being recorded, the
/// shape uniform (`[batch, seq, batch · seq, 0]`, see [`super::shape_words`]) with its values, and
/// where bind groups are kept between forwards (`None`: made per dispatch).
pub struct Forward<'a, 'p> {
    pub ctx: &'a GpuContext,
    pub pass: &'a mut wgpu::ComputePass<'p>,
    pub shape: &'a wgpu::Buffer,
    pub binds: Option<&'a mut BindGroups>,
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
