// Masked mean pooling and L2 normalisation: one unit vector per sequence. The mean's division by
// the token count cancels in the normalisation, so only the masked sum is taken (as the CPU does).
// One workgroup per sequence.

struct Shape { batch: u32, seq: u32, rows: u32, pad: u32 }
struct Pool { h: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> pl: Pool;
@group(0) @binding(2) var<storage, read> hidden: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 128u;
const PER: u32 = 4u; // features per invocation: h ≤ WG · PER
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let b = wg.x + wg.y * nwg.x;
    if (b >= shape.batch) { return; }
    let h = pl.h;
    var v: array<f32, PER>;
    var ss = 0.0;
    for (var f = 0u; f < PER; f++) {
        let i = t + f * WG;
        var s = 0.0;
        if (i < h) {
            for (var tok = 0u; tok < shape.seq; tok++) {
                let row = b * shape.seq + tok;
                if (mask[row] != 0u) { s += hidden[row * h + i]; }
            }
        }
        v[f] = s;
        ss += s * s;
    }
    red[t] = ss;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) { red[t] += red[t + s]; }
        workgroupBarrier();
    }
    let inv = 1.0 / max(sqrt(red[0]), 1e-12);
    for (var f = 0u; f < PER; f++) {
        let i = t + f * WG;
        if (i < h) { out[b * h + i] = v[f] * inv; }
    }
}
