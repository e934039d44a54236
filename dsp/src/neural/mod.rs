//! The neural mask: an RNNoise-style GRU network that turns the 42 features of a frame into 22 band gains and
//! a voice-activity probability.
//!
//! - [`topology`]: the one description of the network's tensors (names, shapes, gate order), shared by the
//!   trainer's candle-nn model, the weights loader and the int8 runtime.
//! - [`weights`]: the weights file (safetensors with metadata), read and validated with the `safetensors` crate.
//! - [`runtime`]: the real-time runtime: the columns that read bounded inputs quantized at load to int8 with
//!   one scale per row and multiplied with 16-bit activations in integer sums, the feature columns in f32; no
//!   allocation, no library call, no thread.
//! - `reference` (feature `train`): the f32 candle-nn definition of the same network, for training and as the
//!   runtime's parity reference.

pub mod runtime;
pub mod topology;
pub mod weights;

#[cfg(feature = "train")]
pub mod reference;

pub use runtime::{NeuralMask, NeuralState};
pub use weights::{ModelError, ModelMetadata, ModelWeights};

#[cfg(quell_shipped_model)]
const SHIPPED: Option<&[u8]> = Some(include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../assets/model/quell.safetensors"
)));
#[cfg(not(quell_shipped_model))]
const SHIPPED: Option<&[u8]> = None;

/// The model compiled into this build from `assets/model/quell.safetensors`, validated; `None` if the build
/// has none. Allocates (call it off the audio thread, once).
pub fn shipped_weights() -> Option<Result<ModelWeights, ModelError>> {
    SHIPPED.map(ModelWeights::from_bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_model_if_any_is_valid() {
        if let Some(weights) = super::shipped_weights() {
            let weights = weights.expect("the shipped model must load");
            assert!(
                !weights.metadata.training.is_empty(),
                "the shipped model must describe its training"
            );
        }
    }
}
