//! The int8 runtime matches the f32 candle-nn forward of the same weights on real features.

mod common;
use candle_core::{Device, Tensor};
use common::*;
use quell_dsp::neural::reference::{Net, NetState};
use quell_dsp::neural::topology::{INPUTS, OUTPUTS};
use quell_dsp::neural::{ModelWeights, NeuralMask, NeuralState};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;

/// 1000+ frames of features from the engine on a voice in noise with level changes.
fn real_features() -> Vec<[f32; INPUTS]> {
    let rate = 48_000.0;
    let voice = synth::voice(rate, 11.0, &Voice::default());
    let mut rng = Rng::new(5);
    let noise = synth::pink(&mut rng, voice.len(), -30.0);
    let x: Vec<f32> = voice
        .iter()
        .zip(&noise)
        .enumerate()
        .map(|(i, (v, n))| (v + n) * if (i / 96_000) % 2 == 0 { 1.0 } else { 0.1 })
        .collect();
    let mut e = engine(rate, 1, MaskMode::Unity);
    let hop = e.layout().hop;
    let mut buf = x;
    buf.chunks_mut(hop)
        .filter(|c| c.len() == hop)
        .map(|c| {
            e.process(&mut [c]);
            e.frame_info().features
        })
        .collect()
}

#[test]
fn int8_runtime_matches_the_f32_reference_within_0_01() {
    let features = real_features();
    assert!(features.len() >= 1000);
    for seed in [1u64, 2] {
        let weights = ModelWeights::seeded_random(seed);
        let device = Device::Cpu;
        let net = Net::from_weights(&weights, &device).unwrap();
        let mask = NeuralMask::new(&weights);
        let mut state = NeuralState::new();
        let mut ref_state = NetState::zeros(1, &device).unwrap();
        let (mut worst_gain, mut worst_vad, mut spread) = (0.0f32, 0.0f32, 0.0f32);
        for f in &features {
            let x = Tensor::from_slice(f.as_slice(), (1, INPUTS), &device).unwrap();
            let (g, v, next) = net.step(&x, &ref_state, false).unwrap();
            ref_state = next;
            let g: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
            let v: f32 = v.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0];
            let mut gains = [0.0; OUTPUTS];
            let vad = mask.step(&mut state, f, &mut gains);
            for (a, b) in g.iter().zip(&gains) {
                worst_gain = worst_gain.max((a - b).abs());
            }
            worst_vad = worst_vad.max((v - vad).abs());
            spread = spread
                .max(g.iter().cloned().fold(0.0, f32::max) - g.iter().cloned().fold(1.0, f32::min));
        }
        println!(
            "seed {seed}: max |Δgain| {worst_gain:.5}, max |ΔVAD| {worst_vad:.5} over {} frames",
            features.len()
        );
        assert!(
            spread > 0.1,
            "the test weights must produce varied gains to be meaningful"
        );
        assert!(worst_gain <= 0.01, "seed {seed}: gain error {worst_gain}");
        assert!(worst_vad <= 0.01, "seed {seed}: VAD error {worst_vad}");
    }
}
