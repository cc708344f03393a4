// Masked mean pooling and L2 normalisation: one unit vector per sequence. The mean's division by
// the token count cancels in the normalisation, so only the masked sum is taken (as the CPU does).
// One workgroup per sequence.

struct Pool { h: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(1) var<uniform> pl: Pool;
@group(0) @binding(2) var<storage, read> hidden: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 128u;
const PER: u32 = 4u; // features per invocation: h ≤ WG · PER

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let b = group_id(wg, nwg);
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
    let inv = 1.0 / max(sqrt(reduce(t, ss, false)), 1e-12);
    for (var f = 0u; f < PER; f++) {
        let i = t + f * WG;
        if (i < h) { out[b * h + i] = v[f] * inv; }
    }
}
