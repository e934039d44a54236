//! The network's shape: RNNoise v1's layer structure on Quell's 42 features, with wider noise and denoise GRUs
//! (96 and 192 units against RNNoise's 48 and 96: see `docs/model.md` for what the width bought), a causal
//! convolution over the last [`CONTEXT`] frames of features in place of RNNoise v1's input dense layer (as
//! RNNoise 0.2 has; it needs no look-ahead, so the latency stays one 20 ms window), and a third GRU of
//! [`DENOISE2_HIDDEN`] units after the denoise GRU (RNNoise 0.2 has three too), whose state the gain layer reads
//! beside the denoise GRU's. The third GRU had 96 units until 2026-12-08 ([`GRU3_TOPOLOGY`]).
//!
//! ```text
//! features of frames t−2, t−1, t (3 × 42) ─ input_conv (tanh) ─ c (24) ─ vad_gru ─ v (24) ─ vad_output (sigmoid) ─ VAD (1)
//!      │                                                         │          │
//!      │                                                         └─ [c, v, features_t] (90) ─ noise_gru ─ n (96)
//!      │                                                                                       │
//!      ├──────────────────────────────────────────── [c, n, features_t] (162) ─ denoise_gru ─ d (192)
//!      │                                                                                       │
//!      └──────────────────────────────────────────── [c, d, features_t] (258) ─ denoise2_gru ─ e (192)
//!                                                                                              │
//!                                                                  [d, e] (384) ─ denoise_output (sigmoid) ─ gains (22)
//! ```
//!
//! The convolution is one matrix over the stacked frames, oldest first: columns `0..42` weigh frame t−2,
//! `42..84` frame t−1 and `84..126` frame t. Before a stream's first frames the older frames are zeros.
//!
//! GRU layers follow PyTorch's convention: weight rows are stacked as reset, update, new gates; the candidate
//! uses `r ⊙ (W_hn·h + b_hn)`; `h' = (1 − z) ⊙ n + z ⊙ h`.

use crate::bands::NB_BANDS;
use crate::features::NB_FEATURES;

/// Inputs per frame.
pub const INPUTS: usize = NB_FEATURES;
/// Frames of features the input convolution sees: the current one and the two before it.
pub const CONTEXT: usize = 3;
/// Inputs of the input convolution: [`CONTEXT`] frames of [`INPUTS`] features, oldest first.
pub const CONV_INPUTS: usize = CONTEXT * INPUTS;
/// Width of the input convolution (its output channels).
pub const DENSE: usize = 24;
/// Hidden size of the VAD GRU.
pub const VAD_HIDDEN: usize = 24;
/// Hidden size of the noise GRU.
pub const NOISE_HIDDEN: usize = 96;
/// Hidden size of the denoise GRU.
pub const DENOISE_HIDDEN: usize = 192;
/// Hidden size of the second denoise GRU.
pub const DENOISE2_HIDDEN: usize = 192;
/// Hidden size of the second denoise GRU in [`GRU3_TOPOLOGY`].
pub const GRU3_DENOISE2_HIDDEN: usize = 96;
/// Band gains out.
pub const OUTPUTS: usize = NB_BANDS;
/// Input width of the noise GRU: `[t, v, features]`.
pub const NOISE_INPUTS: usize = DENSE + VAD_HIDDEN + INPUTS;
/// Input width of the denoise GRU: `[t, n, features]`.
pub const DENOISE_INPUTS: usize = DENSE + NOISE_HIDDEN + INPUTS;
/// Input width of the second denoise GRU: `[t, d, features]`.
pub const DENOISE2_INPUTS: usize = DENSE + DENOISE_HIDDEN + INPUTS;
/// Input width of the gain layer: `[d, e]`.
pub const OUTPUT_INPUTS: usize = DENOISE_HIDDEN + DENOISE2_HIDDEN;

/// Name of this topology, stored in every weights file the trainer writes.
pub const TOPOLOGY: &str = "rnnoise-conv3-gru3/42x3-24-24-96-192-192-22";
/// The topology of the model files shipped on 2026-12-07: this network with [`GRU3_DENOISE2_HIDDEN`] units in the
/// second denoise GRU. Files of it still load: the second denoise GRU's rows for the units it lacks are zeros, as
/// are its old units' recurrent columns for them and the gain layer's columns for them, which computes the same
/// network (a unit whose rows are all zeros stays at zero). The trainer grows a model of this topology into
/// [`TOPOLOGY`] that way, with the new units' own rows drawn at random.
pub const GRU3_TOPOLOGY: &str = "rnnoise-conv3-gru3/42x3-24-24-96-192-96-22";
/// The topology of the model files shipped from 2026-12-04 to 2026-12-07: this network without the second
/// denoise GRU (the gain layer reads `d` alone, 22 × 192). Files of it still load: the second denoise GRU's
/// tensors are zeros and the gain layer's columns for `e` are zeros, which computes the same network. The trainer
/// grows a model of this topology into [`TOPOLOGY`] that way, with the new GRU's own weights drawn at random.
pub const CONV3_TOPOLOGY: &str = "rnnoise-conv3/42x3-24-24-96-192-22";
/// The topology of the model files shipped until 2026-12-04: [`CONV3_TOPOLOGY`] with a dense layer on the current
/// frame alone (`input_dense`, 24 × 42) where it has the convolution. Files of it still load: the dense layer
/// becomes the convolution's columns for frame t, with zeros for the older frames, and the second denoise GRU is
/// added as for [`CONV3_TOPOLOGY`], which computes the same network.
pub const LEGACY_TOPOLOGY: &str = "rnnoise-v1/42-24-24-96-192-22";
/// Version of the feature layout the weights were trained on ([`crate::features`]).
pub const FEATURE_LAYOUT: &str = "quell-features-v1";
/// Version of the weights file format.
pub const FORMAT_VERSION: &str = "1";

/// One tensor of the network: its name in the weights file and its shape (rows, columns; biases have 1 column
/// and are stored as vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSpec {
    /// Name in the safetensors file.
    pub name: &'static str,
    /// Rows (outputs).
    pub rows: usize,
    /// Columns (inputs); 1 for a bias, which is stored as a rank-1 tensor.
    pub cols: usize,
}

impl TensorSpec {
    /// Number of values.
    pub const fn values(&self) -> usize {
        self.rows * self.cols
    }

    /// True for a bias (rank-1 tensor).
    pub const fn is_bias(&self) -> bool {
        self.cols == 1
    }

    /// Shape as stored in the file.
    pub fn shape(&self) -> Vec<usize> {
        if self.is_bias() {
            vec![self.rows]
        } else {
            vec![self.rows, self.cols]
        }
    }
}

const fn t(name: &'static str, rows: usize, cols: usize) -> TensorSpec {
    TensorSpec { name, rows, cols }
}

/// Every tensor of the network, in a fixed order.
pub const TENSORS: [TensorSpec; 22] = [
    t("input_conv.weight", DENSE, CONV_INPUTS),
    t("input_conv.bias", DENSE, 1),
    t("vad_gru.weight_ih", 3 * VAD_HIDDEN, DENSE),
    t("vad_gru.weight_hh", 3 * VAD_HIDDEN, VAD_HIDDEN),
    t("vad_gru.bias_ih", 3 * VAD_HIDDEN, 1),
    t("vad_gru.bias_hh", 3 * VAD_HIDDEN, 1),
    t("noise_gru.weight_ih", 3 * NOISE_HIDDEN, NOISE_INPUTS),
    t("noise_gru.weight_hh", 3 * NOISE_HIDDEN, NOISE_HIDDEN),
    t("noise_gru.bias_ih", 3 * NOISE_HIDDEN, 1),
    t("noise_gru.bias_hh", 3 * NOISE_HIDDEN, 1),
    t("denoise_gru.weight_ih", 3 * DENOISE_HIDDEN, DENOISE_INPUTS),
    t("denoise_gru.weight_hh", 3 * DENOISE_HIDDEN, DENOISE_HIDDEN),
    t("denoise_gru.bias_ih", 3 * DENOISE_HIDDEN, 1),
    t("denoise_gru.bias_hh", 3 * DENOISE_HIDDEN, 1),
    t(
        "denoise2_gru.weight_ih",
        3 * DENOISE2_HIDDEN,
        DENOISE2_INPUTS,
    ),
    t(
        "denoise2_gru.weight_hh",
        3 * DENOISE2_HIDDEN,
        DENOISE2_HIDDEN,
    ),
    t("denoise2_gru.bias_ih", 3 * DENOISE2_HIDDEN, 1),
    t("denoise2_gru.bias_hh", 3 * DENOISE2_HIDDEN, 1),
    t("denoise_output.weight", OUTPUTS, OUTPUT_INPUTS),
    t("denoise_output.bias", OUTPUTS, 1),
    t("vad_output.weight", 1, VAD_HIDDEN),
    t("vad_output.bias", 1, 1),
];

/// Index of a tensor in [`TENSORS`] by name.
pub fn index_of(name: &str) -> Option<usize> {
    TENSORS.iter().position(|t| t.name == name)
}

/// Total number of weights (534,695 for this topology, 159,936 more than [`GRU3_TOPOLOGY`]; a test ties the
/// count to the weights file).
pub fn parameter_count() -> usize {
    TENSORS.iter().map(|t| t.values()).sum()
}
