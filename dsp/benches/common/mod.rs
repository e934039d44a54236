//! Set-up shared by the benchmarks.

use quell_dsp::neural::NeuralMask;
use quell_dsp::{Engine, EngineConfig, MaskMode};

/// A mono engine at `rate` Hz with `mask` installed, in `mode`. Allocates.
pub fn mono_engine(rate: f32, mask: &NeuralMask, mode: MaskMode) -> Engine {
    let mut engine = Engine::new(EngineConfig {
        sample_rate: rate,
        channels: 1,
    })
    .unwrap();
    engine.set_model(Some(mask.clone()));
    engine.set_mode(mode);
    engine
}
