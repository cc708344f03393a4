// GELU, erf form, in place: x · (1 + erf(x / √2)) / 2, with the same rational erf as ops::erf
// (Eigen/XLA's degree 13/8 fit on [-4, 4]) so both backends round alike.

struct Ew { n: u32, pad0: u32, pad1: u32, pad2: u32 }

const WG: u32 = 256u;

@group(0) @binding(1) var<uniform> ew: Ew;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

fn erf(v: f32) -> f32 {
    let x = clamp(v, -4.0, 4.0);
    let x2 = x * x;
    var p = x2 * -2.7261423e-10 + 2.7706814e-8;
    p = x2 * p + -2.101024e-6;
    p = x2 * p + -5.6925064e-5;
    p = x2 * p + -7.3499063e-4;
    p = x2 * p + -2.9546001e-3;
    p = x2 * p + -1.6096033e-2;
    var q = x2 * -1.4566072e-5 + -2.1337406e-4;
    q = x2 * q + -1.682827e-3;
    q = x2 * q + -7.373329e-3;
    q = x2 * q + -1.426474e-2;
    return x * p / q;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let i = group_id(wg, nwg) * WG + t;
    if (i >= shape.rows * ew.n) { return; }
    let v = x[i];
    x[i] = (erf(v * 0.70710678) + 1.0) * 0.5 * v;
}
