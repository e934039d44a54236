//! What the engine decided for the most recent frame: for meters, the trainer and tests.

use crate::bands::NB_BANDS;
use crate::features::NB_FEATURES;

/// What the engine decided for the most recent frame. Plain data, `Copy`; reading it never allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameInfo {
    /// Frames processed since construction or [`crate::Engine::reset`].
    pub frame_index: u64,
    /// The 42 features of the mix (see [`crate::features`]).
    pub features: [f32; NB_FEATURES],
    /// Band energies of the mix spectrum (linear power, spectrum scaled by `1 / window`).
    pub band_energy: [f32; NB_BANDS],
    /// Effective gain applied per band, linear 0..=1 (power-weighted mean of the bin gains).
    pub band_gains: [f32; NB_BANDS],
    /// Pitch frequency, Hz.
    pub pitch_hz: f32,
    /// Normalised pitch correlation, -1..=1.
    pub pitch_correlation: f32,
    /// True when the frame's energy is below the silence threshold.
    pub silent: bool,
    /// Speech probability from the neural network, 0..=1 (0 when no network runs).
    pub vad: f32,
    /// Gain of the VAD gate, linear 0..=1 (1 when the gate is off or open).
    pub gate_gain: f32,
    /// The gate's onset measure ([`crate::mask::onset_measure_db`]): the frame's power over the noise estimate,
    /// dB, compared with [`crate::mask::GATE_ONSET_SNR_DB`]; −∞ for a frame without power.
    pub onset_db: f32,
}

impl Default for FrameInfo {
    fn default() -> Self {
        FrameInfo {
            frame_index: 0,
            features: [0.0; NB_FEATURES],
            band_energy: [0.0; NB_BANDS],
            band_gains: [1.0; NB_BANDS],
            pitch_hz: 0.0,
            pitch_correlation: 0.0,
            silent: true,
            vad: 0.0,
            gate_gain: 1.0,
            onset_db: f32::NEG_INFINITY,
        }
    }
}
