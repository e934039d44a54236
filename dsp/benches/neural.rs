//! Cost of the neural mask: one network step, and one whole engine frame in neural mode, side by side with
//! nnnoiseless (RNNoise v1 in Rust) processing one 10 ms frame, in the same run, single thread.
//!
//! `cargo bench -p quell-dsp --bench neural`
//!
//! The network weights here are seeded random ones: the cost of a step does not depend on the values.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use quell_dsp::neural::topology::{INPUTS, OUTPUTS};
use quell_dsp::neural::{ModelWeights, NeuralMask, NeuralState};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;
use std::hint::black_box;

fn neural(c: &mut Criterion) {
    let rate = 48_000.0;
    let voice = synth::voice(rate, 2.0, &Voice::default());
    let noise = synth::white(&mut Rng::new(1), voice.len(), -30.0);
    let input: Vec<f32> = voice.iter().zip(&noise).map(|(a, b)| a + b).collect();
    let mask = NeuralMask::new(&ModelWeights::seeded_random(1));

    let mut group = c.benchmark_group("neural");
    let mut state = NeuralState::new();
    let mut rng = Rng::new(2);
    let frames: Vec<[f32; INPUTS]> = (0..64)
        .map(|_| std::array::from_fn(|_| rng.gaussian() as f32))
        .collect();
    let mut i = 0;
    let mut gains = [0.0; OUTPUTS];
    group.bench_function("network_step", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            black_box(mask.step(&mut state, black_box(&frames[i]), &mut gains));
        })
    });

    for (name, mode) in [
        ("engine_frame_neural_48k_mono", MaskMode::Neural),
        ("engine_frame_classic_48k_mono", MaskMode::Classic),
    ] {
        let mut engine = common::mono_engine(rate, &mask, mode);
        let hop = engine.layout().hop;
        let mut buf = vec![0.0f32; hop];
        let mut pos = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                if pos + hop > input.len() {
                    pos = 0;
                }
                buf.copy_from_slice(&input[pos..pos + hop]);
                pos += hop;
                engine.process(black_box(&mut [&mut buf[..]]));
            })
        });
    }

    // nnnoiseless works on 480-sample frames at 48 kHz in i16 scale.
    let mut state = nnnoiseless::DenoiseState::new();
    let scaled: Vec<f32> = input.iter().map(|x| x * 32768.0).collect();
    let mut out = vec![0.0f32; nnnoiseless::DenoiseState::FRAME_SIZE];
    let mut pos = 0;
    group.bench_function("nnnoiseless_process_frame_48k_mono", |b| {
        b.iter(|| {
            let n = nnnoiseless::DenoiseState::FRAME_SIZE;
            if pos + n > scaled.len() {
                pos = 0;
            }
            black_box(state.process_frame(&mut out, black_box(&scaled[pos..pos + n])));
            pos += n;
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = neural
}
criterion_main!(benches);
