// y[r, col_off + j] = Σ_i x[r, i] · W[j, i] + bias[j] over GGUF blocks of 32 weights, dequantized
// here; a block decoder (matmul_q8/q5/q4.wgsl) is prepended and provides `block_scale(byte)` and
// `block_quad(byte, w)` (elements 4w..4w+3 as floats) for the block starting at `byte` in `wq`.
//
// One workgroup: 32 invocations × 4 columns each = 128 output columns, × TM = 8 rows. Per step the
// rows' activations for KB blocks are staged in workgroup memory; each invocation decodes one quad
// of weights for its 4 columns and multiplies it with each row's quad, so one activation load
// feeds 16 multiply-adds (loads, not arithmetic, bound this kernel on lavapipe and on GPUs).

struct Mm { n: u32, k: u32, ldy: u32, col_off: u32 }

@group(0) @binding(1) var<uniform> mm: Mm;
@group(0) @binding(2) var<storage, read> wq: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

const TM: u32 = 8u;
const KB: u32 = 4u;
const QUADS: u32 = 8u; // vec4s per 32-weight block
const WG: u32 = 32u;
const TN: u32 = 4u;

var<workgroup> xs: array<vec4<f32>, 256>; // TM × KB × QUADS

// The u32 starting at `byte`. GGUF blocks are 34, 22 or 18 bytes, so a block (and every field in
// it) starts 0 or 2 bytes past a word boundary; the weight buffer carries 4 bytes of padding so the
// second word of the last block's unaligned read exists.
fn word_at(byte: u32) -> u32 {
    let i = byte >> 2u;
    if ((byte & 3u) == 0u) {
        return wq[i];
    }
    return (wq[i] >> 16u) | (wq[i + 1u] << 16u);
}

fn f16_at(byte: u32) -> f32 {
    return unpack2x16float(word_at(byte) & 0xffffu).x;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    // Columns j0 + c·WG: neighbouring invocations read neighbouring columns.
    let j0 = wg.x * WG * TN + t;
    let r0 = wg.y * TM;
    let nb = mm.k / 32u;
    let kq = mm.k / 4u;
    let last = mm.n - 1u;
    // Past the last column an invocation decodes the last column again and stores nothing, so
    // every invocation reaches the barriers.
    let cols = vec4<u32>(min(j0, last), min(j0 + WG, last), min(j0 + 2u * WG, last), min(j0 + 3u * WG, last));
    // One vector per row holding its 4 columns: a local array indexed in a loop ends up in memory
    // on some drivers (lavapipe); named vectors stay in registers.
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);

    for (var b0 = 0u; b0 < nb; b0 += KB) {
        let nbs = min(KB, nb - b0);
        // Stage TM rows × nbs blocks of activations (zeros past the last row).
        for (var e = t; e < TM * KB * QUADS; e += WG) {
            let r = e / (KB * QUADS);
            let q = e % (KB * QUADS);
            var v = vec4<f32>(0.0);
            if (r0 + r < shape.rows && q < nbs * QUADS) {
                v = x[(r0 + r) * kq + b0 * QUADS + q];
            }
            xs[e] = v;
        }
        workgroupBarrier();
        for (var b = 0u; b < nbs; b++) {
            let bytes = (cols * nb + vec4<u32>(b0 + b)) * BLOCK_BYTES;
            var p0 = vec4<f32>(0.0); var p1 = vec4<f32>(0.0); var p2 = vec4<f32>(0.0); var p3 = vec4<f32>(0.0);
            var p4 = vec4<f32>(0.0); var p5 = vec4<f32>(0.0); var p6 = vec4<f32>(0.0); var p7 = vec4<f32>(0.0);
            for (var w = 0u; w < QUADS; w++) {
                // Column c of `m` is column c's 4 weights; `xr * m` is each column's dot with xr.
                let m = mat4x4<f32>(block_quad(bytes.x, w), block_quad(bytes.y, w),
                                    block_quad(bytes.z, w), block_quad(bytes.w, w));
                let i = b * QUADS + w;
                let s = KB * QUADS;
                p0 += xs[i] * m; p1 += xs[i + s] * m; p2 += xs[i + 2u * s] * m; p3 += xs[i + 3u * s] * m;
                p4 += xs[i + 4u * s] * m; p5 += xs[i + 5u * s] * m; p6 += xs[i + 6u * s] * m; p7 += xs[i + 7u * s] * m;
            }
            let d = vec4<f32>(block_scale(bytes.x), block_scale(bytes.y), block_scale(bytes.z), block_scale(bytes.w));
            a0 += p0 * d; a1 += p1 * d; a2 += p2 * d; a3 += p3 * d;
            a4 += p4 * d; a5 += p5 * d; a6 += p6 * d; a7 += p7 * d;
        }
        workgroupBarrier();
    }
    let rows = array<vec4<f32>, TM>(a0, a1, a2, a3, a4, a5, a6, a7);
    for (var c = 0u; c < TN; c++) {
        let j = j0 + c * WG;
        if (j > last) { continue; }
        let bj = bias[j];
        for (var r = 0u; r < TM; r++) {
            if (r0 + r < shape.rows) {
                y[(r0 + r) * mm.ldy + mm.col_off + j] = rows[r][c] + bj;
            }
        }
    }
}
