//! The core's one error type: every message says what went wrong and what to do next.

/// Errors from the Vitrine core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input from the page or a file did not have the expected shape.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The bytes are not a GGUF file at all (wrong magic): usually the wrong URL or file.
    #[error(
        "not a GGUF model file ({0}); pass a model made by `vitrine convert`, e.g. models/minilm-l6-q8_0.gguf"
    )]
    NotGguf(String),

    /// A GGUF file that ends early or whose header is damaged.
    #[error(
        "model file is truncated or damaged ({0}); download it again or regenerate it with scripts/regenerate-models.sh"
    )]
    ModelTruncated(String),

    /// A Vitrine GGUF written by a newer (or older, incompatible) converter.
    #[error(
        "model format version {found} is not supported (this build reads version {supported}); regenerate the model with this release's `vitrine convert`"
    )]
    ModelVersion {
        /// Version found in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },

    /// A metadata entry the encoder needs is absent or malformed.
    #[error(
        "model metadata `{key}` is missing or invalid ({reason}); the file was not made by `vitrine convert`: regenerate it"
    )]
    ModelMetadata {
        /// GGUF metadata key.
        key: String,
        /// What was wrong with it.
        reason: String,
    },

    /// A weight the architecture needs is not in the file.
    #[error(
        "model tensor `{0}` is missing; the file is not a BERT model made by `vitrine convert`: regenerate it"
    )]
    MissingTensor(String),

    /// A weight whose shape does not match the config stored beside it.
    #[error(
        "model tensor `{name}` has shape {found:?}, expected {expected:?}; the weights do not match their config: regenerate the model"
    )]
    TensorShape {
        /// Tensor name.
        name: String,
        /// Shape the config implies.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },

    /// The weights do not hash to the checksum recorded at conversion time.
    #[error(
        "model checksum mismatch (recorded {expected}, computed {actual}): the file is corrupted; download it again or regenerate it with scripts/regenerate-models.sh"
    )]
    ModelChecksum {
        /// Checksum recorded in the metadata.
        expected: String,
        /// Checksum of the bytes received.
        actual: String,
    },

    /// The tokenizer JSON could not be loaded or could not encode a text.
    #[error("tokenizer failed: {0}; regenerate the model with `vitrine convert` if this persists")]
    Tokenizer(String),

    /// A tensor operation failed; with a validated model this is a bug.
    #[error("tensor computation failed: {0}; please report this with the input that caused it")]
    Tensor(#[from] candle_core::Error),

    /// No GPU to run on: no WebGPU/Vulkan adapter, or it refused a device.
    #[error(
        "no GPU available ({0}); use device `cpu` or `auto` (which falls back to the CPU), or install a driver: Debian `apt-get install mesa-vulkan-drivers libvulkan1` (scripts/setup.sh), a browser with WebGPU enabled"
    )]
    GpuUnavailable(String),

    /// The GPU failed while running (validation error, out of memory, device lost).
    #[error(
        "GPU computation failed: {0}; the CPU backend computes the same vectors: use device `cpu` or `auto`"
    )]
    Gpu(String),

    /// The model needs something the GPU kernels do not implement (a weight type, a head size).
    #[error("the GPU kernels do not support this model: {0}; use device `cpu` or `auto`")]
    GpuUnsupported(String),

    /// Two vectors or buffers that must have one length do not: vectors from different models met, or
    /// a caller passed the wrong slice.
    #[error(
        "size mismatch in {what}: expected {expected} values, found {found}; load the encoder, catalog, session model and segments made by one model (report it if they are)"
    )]
    SizeMismatch {
        /// The computation and the operand, e.g. `dot`.
        what: String,
        /// Length it needs.
        expected: usize,
        /// Length it got.
        found: usize,
    },

    /// A catalog vector file that is not one, is damaged, or is of another version.
    #[error("catalog file is invalid: {0}; regenerate it with `vitrine embed-catalog`")]
    Catalog(String),
}

/// A stable, machine-readable name for each [`Error`] variant: the `code` of the error a page catches,
/// so it can switch on the kind of failure without parsing the message. Codes never change meaning;
/// a new variant gets a new code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "CoreErrorCode"))]
pub enum ErrorCode {
    /// [`Error::InvalidInput`]: an event, candidate, rule, option or state the page passed is malformed.
    InvalidInput,
    /// [`Error::NotGguf`]: the model URL does not serve a GGUF file.
    NotGguf,
    /// [`Error::ModelTruncated`]: the model file ends early or its header is damaged.
    ModelTruncated,
    /// [`Error::ModelVersion`]: the model was made by an incompatible converter.
    ModelVersion,
    /// [`Error::ModelMetadata`]: a metadata entry the model needs is missing or invalid.
    ModelMetadata,
    /// [`Error::MissingTensor`]: a weight is missing from the model file.
    MissingTensor,
    /// [`Error::TensorShape`]: a weight's shape does not match the model's config.
    TensorShape,
    /// [`Error::ModelChecksum`]: the model's bytes do not match their recorded checksum.
    ModelChecksum,
    /// [`Error::Tokenizer`]: the model's tokenizer could not load or encode.
    Tokenizer,
    /// [`Error::Tensor`]: a tensor computation failed (a bug: report it).
    Tensor,
    /// [`Error::GpuUnavailable`]: no WebGPU/Vulkan adapter or device.
    GpuUnavailable,
    /// [`Error::Gpu`]: the GPU failed while running.
    Gpu,
    /// [`Error::GpuUnsupported`]: the GPU kernels do not support this model.
    GpuUnsupported,
    /// [`Error::Catalog`]: a catalog vector file is invalid or made by another encoder.
    Catalog,
    /// [`Error::SizeMismatch`]: two inputs that must have the same length do not (a model, catalog or
    /// segments file made with another encoder, or vectors of the wrong length).
    SizeMismatch,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 15] = [
        Self::InvalidInput,
        Self::NotGguf,
        Self::ModelTruncated,
        Self::ModelVersion,
        Self::ModelMetadata,
        Self::MissingTensor,
        Self::TensorShape,
        Self::ModelChecksum,
        Self::Tokenizer,
        Self::Tensor,
        Self::GpuUnavailable,
        Self::Gpu,
        Self::GpuUnsupported,
        Self::Catalog,
        Self::SizeMismatch,
    ];

    /// The code as the page sees it (`"invalid_input"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::NotGguf => "not_gguf",
            Self::ModelTruncated => "model_truncated",
            Self::ModelVersion => "model_version",
            Self::ModelMetadata => "model_metadata",
            Self::MissingTensor => "missing_tensor",
            Self::TensorShape => "tensor_shape",
            Self::ModelChecksum => "model_checksum",
            Self::Tokenizer => "tokenizer",
            Self::Tensor => "tensor",
            Self::GpuUnavailable => "gpu_unavailable",
            Self::Gpu => "gpu",
            Self::GpuUnsupported => "gpu_unsupported",
            Self::Catalog => "catalog",
            Self::SizeMismatch => "size_mismatch",
        }
    }
}

impl Error {
    /// This error's stable code (one per variant).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::InvalidInput,
            Self::NotGguf(_) => ErrorCode::NotGguf,
            Self::ModelTruncated(_) => ErrorCode::ModelTruncated,
            Self::ModelVersion { .. } => ErrorCode::ModelVersion,
            Self::ModelMetadata { .. } => ErrorCode::ModelMetadata,
            Self::MissingTensor(_) => ErrorCode::MissingTensor,
            Self::TensorShape { .. } => ErrorCode::TensorShape,
            Self::ModelChecksum { .. } => ErrorCode::ModelChecksum,
            Self::Tokenizer(_) => ErrorCode::Tokenizer,
            Self::Tensor(_) => ErrorCode::Tensor,
            Self::GpuUnavailable(_) => ErrorCode::GpuUnavailable,
            Self::Gpu(_) => ErrorCode::Gpu,
            Self::GpuUnsupported(_) => ErrorCode::GpuUnsupported,
            Self::Catalog(_) => ErrorCode::Catalog,
            Self::SizeMismatch { .. } => ErrorCode::SizeMismatch,
        }
    }

    /// A [`Error::SizeMismatch`] unless `found == expected`.
    pub fn check_len(what: &str, expected: usize, found: usize) -> Result<()> {
        if found == expected {
            Ok(())
        } else {
            Err(Self::SizeMismatch {
                what: what.to_owned(),
                expected,
                found,
            })
        }
    }
}

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_serde_names_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            // The serde name is what the generated TypeScript union lists; `as_str` is what the boundary sets.
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
        }
    }
}
