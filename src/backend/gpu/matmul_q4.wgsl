// q4_0 block (18 bytes): f16 scale, then 16 bytes whose low nibbles are elements 0..16 and high
// nibbles elements 16..32, each offset by 8.
const BLOCK_BYTES: u32 = 18u;

fn block_scale(byte: u32) -> f32 {
    return f16_at(byte);
}

fn block_quad(byte: u32, w: u32) -> vec4<f32> {
    let v = word_at(byte + 2u + 4u * (w % 4u)) >> (4u * (w / 4u));
    let q = vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) & vec4<u32>(0xfu);
    return vec4<f32>(vec4<i32>(q) - vec4<i32>(8));
}
