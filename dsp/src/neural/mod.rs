//! The neural mask: an RNNoise-style GRU network that turns the 42 features of a frame into 22 band gains and
//! a voice-activity probability.
//!
//! - [`topology`]: the one description of the network's tensors (names, shapes, gate order), shared by the
//!   trainer's candle-nn model, the weights loader and the int8 runtime.
//! - [`weights`]: the weights file (safetensors with metadata), loaded and validated with candle.
//! - [`runtime`]: the real-time runtime: weights quantized row-wise to candle's Q8_0 blocks at load, one
//!   `vec_dot` per output row at each step, no allocation, no candle tensor op, no thread pool.
//! - `reference` (feature `train`): the f32 candle-nn definition of the same network, for training and as the
//!   runtime's parity reference.

pub mod runtime;
pub mod topology;
pub mod weights;

#[cfg(feature = "train")]
pub mod reference;

pub use runtime::{NeuralMask, NeuralState};
pub use weights::{ModelError, ModelMetadata, ModelWeights};
