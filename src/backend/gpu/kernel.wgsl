// Prepended to every kernel by kernel.rs: the per-forward shape uniform at binding 0, the
// linearised workgroup id of a 2-D grid, and a workgroup-wide reduction over the kernel's WG
// invocations (each kernel defines WG).

struct Shape { batch: u32, seq: u32, rows: u32, pad: u32 }

@group(0) @binding(0) var<uniform> shape: Shape;

var<workgroup> red: array<f32, WG>;

fn group_id(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.x + wg.y * nwg.x;
}

// The sum (or the max) of every invocation's `v`; all of the workgroup must call it.
fn reduce(t: u32, v: f32, is_max: bool) -> f32 {
    red[t] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            if (is_max) { red[t] = max(red[t], red[t + s]); } else { red[t] += red[t + s]; }
        }
        workgroupBarrier();
    }
    let out = red[0];
    workgroupBarrier();
    return out;
}
