// q8_0 block (34 bytes): f16 scale, then 32 signed bytes in element order.
const BLOCK_BYTES: u32 = 34u;

fn block_scale(byte: u32) -> f32 {
    return f16_at(byte);
}

fn block_quad(byte: u32, w: u32) -> vec4<f32> {
    // extractBits on an i32 sign-extends, which turns each byte into its signed value.
    let v = bitcast<i32>(word_at(byte + 2u + 4u * w));
    return vec4<f32>(
        f32(extractBits(v, 0u, 8u)),
        f32(extractBits(v, 8u, 8u)),
        f32(extractBits(v, 16u, 8u)),
        f32(extractBits(v, 24u, 8u)),
    );
}
