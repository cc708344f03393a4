// Multi-head self-attention straight from the fused rows [query | key | value], as ops::attention:
// softmax(q·kᵀ · scale) over the unmasked keys of the same sequence, then the weighted values.
// Padded keys get weight exactly 0 (the CPU's additive −1e9 also underflows to 0 after the max
// shift). One workgroup per (token, head); the scores of up to MAX_SEQ keys stay in workgroup memory.

struct Att { heads: u32, d: u32, scale: f32, pad: u32 }

@group(0) @binding(1) var<uniform> att: Att;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;
const MAX_SEQ: u32 = 512u;
var<workgroup> p: array<f32, MAX_SEQ>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let id = group_id(wg, nwg);
    let head = id % att.heads;
    let row = id / att.heads;
    if (row >= shape.rows) { return; }
    let seq = shape.seq;
    let d = att.d;
    let h = att.heads * d;
    let first = (row / seq) * seq; // the sequence's first row
    let q = row * 3u * h + head * d;

    var m = -3.0e38;
    for (var j = t; j < seq; j += WG) {
        var s = -3.0e38;
        if (mask[first + j] != 0u) {
            let k = (first + j) * 3u * h + h + head * d;
            var acc = 0.0;
            for (var c = 0u; c < d; c++) { acc += qkv[q + c] * qkv[k + c]; }
            s = acc * att.scale;
        }
        p[j] = s;
        m = max(m, s);
    }
    m = reduce(t, m, true);
    var sum = 0.0;
    for (var j = t; j < seq; j += WG) {
        var e = 0.0;
        if (mask[first + j] != 0u) { e = exp(p[j] - m); }
        p[j] = e;
        sum += e;
    }
    sum = reduce(t, sum, false);
    let inv = 1.0 / max(sum, 1e-30);

    // WG / d invocations share each output value, each summing every (WG / d)-th key.
    let parts = WG / d;
    let c = t % d;
    let part = t / d;
    var acc = 0.0;
    if (part < parts) {
        for (var j = part; j < seq; j += parts) {
            acc += p[j] * qkv[(first + j) * 3u * h + 2u * h + head * d + c];
        }
    }
    red[t] = acc;
    workgroupBarrier();
    if (t < d) {
        var total = 0.0;
        for (var s = 0u; s < parts; s++) { total += red[s * d + t]; }
        out[row * h + head * d + t] = total * inv;
    }
}
