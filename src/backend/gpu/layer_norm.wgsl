// x ← LayerNorm(x + residual) row by row, as ops::add_layer_norm: the mean first, then the variance
// of the centred values (two passes: one pass E[x²] − E[x]² loses digits on BERT's large features).
// One workgroup per row.

struct Ln { h: u32, eps: f32, residual: u32, pad: u32 }

@group(0) @binding(1) var<uniform> ln: Ln;
@group(0) @binding(2) var<storage, read> gb: array<f32>; // weight (h) then bias (h)
@group(0) @binding(3) var<storage, read> res: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

const WG: u32 = 128u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let row = group_id(wg, nwg);
    // Uniform per workgroup, so returning early keeps the barriers uniform.
    if (row >= shape.rows) { return; }
    let h = ln.h;
    let base = row * h;
    var s = 0.0;
    for (var i = t; i < h; i += WG) {
        var v = x[base + i];
        if (ln.residual != 0u) { v += res[base + i]; x[base + i] = v; }
        s += v;
    }
    let mean = reduce(t, s, false) / f32(h);
    var ss = 0.0;
    for (var i = t; i < h; i += WG) {
        let c = x[base + i] - mean;
        ss += c * c;
    }
    let inv = 1.0 / sqrt(reduce(t, ss, false) / f32(h) + ln.eps);
    for (var i = t; i < h; i += WG) {
        x[base + i] = (x[base + i] - mean) * inv * gb[i] + gb[h + i];
    }
}
