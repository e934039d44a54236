//! Quell's real-time noise-suppression engine.
//!
//! This crate knows nothing of plugin frameworks: a host adapter, the command-line tool and the trainer all drive
//! the same [`Engine`], so the features a model was trained on are bit-for-bit the features it sees in a host.
//!
//! A frame travels through one module per stage, in this order:
//!
//! 1. [`framing`]: how a sample rate maps to a 20 ms window, a 10 ms hop and 50 Hz bins.
//! 2. [`window`]: the power-complementary (Vorbis) window used for analysis and synthesis.
//! 3. [`stft`]: analysis buffers, windowing, forward and inverse transforms, overlap-add; the latency.
//! 4. [`bands`]: the 22 triangular bands, band energies and band-to-bin gain interpolation.
//! 5. [`pitch`]: pitch period estimation on a rate-independent 16 kHz view of the spectrum.
//! 6. [`features`]: the 42 RNNoise-style features a model reads.
//! 7. [`classic`] and [`neural`]: the two mask sources (MCRA + MMSE-LSA; the int8 GRU network).
//! 8. [`mask`]: from the source's gains to the applied ones (neural shaping and per-bin refinement, release,
//!    voice gate, floor).
//! 9. [`comb`]: the pitch comb filter that removes noise between harmonics.
//! 10. [`engine`]: the façade that wires the stages together for any block size and channel count.
//!
//! [`settings`] holds the knobs (one plain [`Settings`] value, with defaults and ranges), [`info`] what the
//! engine decided for the last frame, [`offline`] the allocating whole-buffer calls for callers that hold the
//! entire signal.
//!
//! ```
//! use quell_dsp::{Engine, EngineConfig, MaskMode, Settings};
//!
//! // Build once (allocates), outside the audio callback.
//! let mut engine = Engine::new(EngineConfig { sample_rate: 48_000.0, channels: 2 }).unwrap();
//! engine.set_settings(&Settings { reduction_db: 24.0, mode: MaskMode::Classic, ..Settings::DEFAULT });
//! assert_eq!(engine.latency_samples(), 960); // 20 ms: report this to the host
//!
//! // In the callback: any block size, in place, no allocation.
//! let (mut left, mut right) = (vec![0.0f32; 128], vec![0.0f32; 128]);
//! engine.process(&mut [&mut left[..], &mut right[..]]);
//! ```
//!
//! [`synth`] and [`metrics`] hold seeded test signals and quality measures shared by tests, benchmarks and tools.

#![warn(missing_docs)]
// DSP loops index several parallel per-bin and per-band arrays at once; an index reads clearer than zips.
#![allow(clippy::needless_range_loop)]

pub mod bands;
pub mod classic;
pub mod comb;
pub mod engine;
pub mod error;
pub mod features;
pub mod framing;
pub mod info;
pub mod mask;
pub mod metrics;
pub mod neural;
pub mod offline;
pub mod pitch;
pub mod rng;
pub mod settings;
pub mod stft;
pub mod synth;
pub mod window;

pub use engine::{Engine, EngineConfig};
pub use error::DspError;
pub use framing::FrameLayout;
pub use info::FrameInfo;
pub use settings::{MaskMode, Settings, VadGate};
