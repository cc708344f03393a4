// q5_0 block (22 bytes): f16 scale, a little-endian u32 whose bit e is element e's fifth bit, then
// 16 bytes of nibbles laid out as in q4_0; values are offset by 16.
const BLOCK_BYTES: u32 = 22u;

fn block_scale(byte: u32) -> f32 {
    return f16_at(byte);
}

fn block_quad(byte: u32, w: u32) -> vec4<f32> {
    let v = word_at(byte + 6u + 4u * (w % 4u)) >> (4u * (w / 4u));
    let lo = vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) & vec4<u32>(0xfu);
    let h = word_at(byte + 2u) >> (4u * w);
    let hi = (vec4<u32>(h, h >> 1u, h >> 2u, h >> 3u) & vec4<u32>(1u)) << vec4<u32>(4u);
    return vec4<f32>(vec4<i32>(lo | hi) - vec4<i32>(16));
}
