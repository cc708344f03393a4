//! `y = x · Wᵀ + b` with `W` in raw GGUF blocks, dequantized in the shader: matmul.wgsl is the
//! tiling driver and matmul_q8/q5/q4.wgsl decode one block type each (34, 22 and 18 bytes, which is
//! why the shaders read the weights as words at 2-byte-misaligned offsets).

use candle_core::quantized::{GgmlDType, QTensor};

use super::kernel::{Forward, Kernel};
use super::GpuContext;
use crate::error::{Error, Result};

const DRIVER: &str = include_str!("matmul.wgsl");
/// Output rows per workgroup (`TM` in matmul.wgsl) and columns per workgroup (`WG · TN`).
const ROWS_PER_GROUP: usize = 8;
const COLS_PER_GROUP: usize = 128;

/// The block types the kernels decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockType {
    Q8_0,
    Q5_0,
    Q4_0,
}

impl BlockType {
    /// The GGUF type's kernel, if there is one.
    pub fn of(dtype: GgmlDType) -> Option<Self> {
        match dtype {
            GgmlDType::Q8_0 => Some(Self::Q8_0),
            GgmlDType::Q5_0 => Some(Self::Q5_0),
            GgmlDType::Q4_0 => Some(Self::Q4_0),
            _ => None,
        }
    }

    fn block_bytes(self) -> usize {
        match self {
            Self::Q8_0 => 34,
            Self::Q5_0 => 22,
            Self::Q4_0 => 18,
        }
    }
}

/// The three pipelines, one per block type.
pub struct Matmul {
    q8: Kernel,
    q5: Kernel,
    q4: Kernel,
}

impl Matmul {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        let build = |label: &str, decoder: &str| Kernel::new(device, label, &format!("{decoder}\n{DRIVER}"));
        Self {
            q8: build("matmul_q8", include_str!("matmul_q8.wgsl")),
            q5: build("matmul_q5", include_str!("matmul_q5.wgsl")),
            q4: build("matmul_q4", include_str!("matmul_q4.wgsl")),
        }
    }

    /// Records `y[r, col_off + j] = x[r] · W[j] + b[j]` for the forward's rows; `x` holds rows of
    /// `k` floats, `y` rows of `w`'s `ldy`.
    pub fn encode(&self, f: &mut Forward<'_, '_>, w: &QWeight, x: &wgpu::Buffer, y: &wgpu::Buffer) {
        let kernel = match w.block {
            BlockType::Q8_0 => &self.q8,
            BlockType::Q5_0 => &self.q5,
            BlockType::Q4_0 => &self.q4,
        };
        // rows / 8 stays below the 65,535 groups of one dimension for any batch a buffer holds.
        let groups = (
            w.n.div_ceil(COLS_PER_GROUP) as u32,
            f.rows().div_ceil(ROWS_PER_GROUP).max(1) as u32,
        );
        kernel.dispatch(f, &[&w.params, &w.blocks, &w.bias, x, y], groups);
    }
}

/// A weight matrix `[n, k]` as GGUF blocks of one type, row after row (borrowed, for an upload).
pub struct Blocks<'a> {
    pub block: BlockType,
    pub n: usize,
    pub k: usize,
    pub bytes: &'a [u8],
}

/// A weight matrix `[n, k]` on the GPU: its GGUF blocks as stored, its bias, and the parameters of
/// where its outputs go (`ldy` floats per output row, starting at column `col_off`).
pub struct QWeight {
    block: BlockType,
    n: usize,
    k: usize,
    blocks: wgpu::Buffer,
    bias: wgpu::Buffer,
    params: wgpu::Buffer,
}

impl QWeight {
    /// Uploads `w` (`[n, k]`, a type with a kernel) and its bias; outputs land in rows of `ldy`
    /// floats from column `col_off`.
    pub fn upload(
        ctx: &GpuContext,
        name: &str,
        w: &QTensor,
        bias: &[f32],
        ldy: usize,
        col_off: usize,
    ) -> Result<Self> {
        let (n, k) = w.shape().dims2()?;
        let block = BlockType::of(w.dtype()).ok_or_else(|| {
            Error::GpuUnsupported(format!("`{name}` is {:?}, which has no GPU kernel", w.dtype()))
        })?;
        let blocks = Blocks {
            block,
            n,
            k,
            bytes: &w.data()?,
        };
        Self::from_blocks(ctx, name, blocks, bias, ldy, col_off)
    }

    /// Uploads a weight from its GGUF blocks (see [`QWeight::upload`]).
    pub fn from_blocks(
        ctx: &GpuContext,
        name: &str,
        w: Blocks<'_>,
        bias: &[f32],
        ldy: usize,
        col_off: usize,
    ) -> Result<Self> {
        let Blocks { block, n, k, bytes } = w;
        if k % 32 != 0 || bias.len() != n || col_off + n > ldy {
            return Err(Error::InvalidInput(format!(
                "`{name}`: [{n}, {k}] does not fit the GPU matmul"
            )));
        }
        if bytes.len() != n * k / 32 * block.block_bytes() {
            return Err(Error::InvalidInput(format!(
                "`{name}`: block data has the wrong length"
            )));
        }
        // Whole words, plus one spare word for the shader's unaligned read of the last block.
        let mut words = vec![0u32; bytes.len().div_ceil(4) + 1];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        let params = [n as u32, k as u32, ldy as u32, col_off as u32];
        Ok(Self {
            block,
            n,
            k,
            blocks: ctx.storage(name, &words),
            bias: ctx.storage(name, bias),
            params: ctx.uniform(name, params),
        })
    }

    /// Output features.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input features.
    pub fn k(&self) -> usize {
        self.k
    }
}
