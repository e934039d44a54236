//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

pub mod alloc;

use quell_dsp::synth::Rng;
use quell_dsp::{Engine, EngineConfig, MaskMode};

/// Host rates of the test matrix.
pub const RATES: [f32; 4] = [16_000.0, 44_100.0, 48_000.0, 96_000.0];

/// How a host slices its blocks.
#[derive(Debug, Clone, Copy)]
pub enum Blocks {
    /// Every block this long.
    Fixed(usize),
    /// Seeded random lengths from 1 to 1500 (including 0-length calls).
    Random(u64),
}

/// The block-size matrix: 1, 7, 64, 480, 4096 and random.
pub const BLOCKS: [Blocks; 6] = [
    Blocks::Fixed(1),
    Blocks::Fixed(7),
    Blocks::Fixed(64),
    Blocks::Fixed(480),
    Blocks::Fixed(4096),
    Blocks::Random(7),
];

pub fn engine(rate: f32, channels: usize, mode: MaskMode) -> Engine {
    let mut e = Engine::new(EngineConfig {
        sample_rate: rate,
        channels,
    })
    .expect("engine");
    e.set_mode(mode);
    e
}

/// Runs `input` (one Vec per channel) through `engine` in blocks and returns the output.
pub fn run(engine: &mut Engine, input: &[Vec<f32>], blocks: Blocks) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = input.to_vec();
    let len = input[0].len();
    let mut rng = Rng::new(match blocks {
        Blocks::Random(s) => s,
        Blocks::Fixed(_) => 0,
    });
    let mut pos = 0;
    while pos < len {
        let n = match blocks {
            Blocks::Fixed(n) => n,
            Blocks::Random(_) => (rng.next_u64() % 1501) as usize,
        }
        .min(len - pos);
        let mut slices: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[pos..pos + n]).collect();
        engine.process(&mut slices);
        pos += n;
    }
    out
}

/// Mono convenience wrapper around [`run`].
pub fn run_mono(engine: &mut Engine, input: &[f32], blocks: Blocks) -> Vec<f32> {
    run(engine, &[input.to_vec()], blocks).remove(0)
}

/// Removes `latency` samples from the front of `output` so that it lines up with the input.
pub fn aligned(output: &[f32], latency: usize) -> &[f32] {
    &output[latency.min(output.len())..]
}
