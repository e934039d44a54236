//! Cost of one 10 ms frame (features + mask + comb filter + synthesis), single thread.
//!
//! `cargo bench -p quell-dsp --bench frame`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::{Engine, EngineConfig, MaskMode};
use std::hint::black_box;

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_frame");
    for (rate, channels, mode) in [
        (48_000.0, 1, MaskMode::Classic),
        (48_000.0, 1, MaskMode::Unity),
        (48_000.0, 2, MaskMode::Classic),
        (44_100.0, 1, MaskMode::Classic),
        (96_000.0, 1, MaskMode::Classic),
    ] {
        let mut engine = Engine::new(EngineConfig {
            sample_rate: rate,
            channels,
        })
        .unwrap();
        engine.set_mode(mode);
        let hop = engine.layout().hop;
        let voice = synth::voice(rate, 2.0, &Voice::default());
        let noise = synth::white(&mut Rng::new(1), voice.len(), -30.0);
        let input: Vec<f32> = voice.iter().zip(&noise).map(|(a, b)| a + b).collect();
        let mut bufs = vec![vec![0.0f32; hop]; channels];
        let mut pos = 0;
        let id = BenchmarkId::new(format!("{mode:?}/{channels}ch"), rate as u32);
        group.bench_function(id, |b| {
            b.iter(|| {
                if pos + hop > input.len() {
                    pos = 0;
                }
                for buf in bufs.iter_mut() {
                    buf.copy_from_slice(&input[pos..pos + hop]);
                }
                pos += hop;
                let mut slices: Vec<&mut [f32]> =
                    bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
                engine.process(black_box(&mut slices));
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = frame
}
criterion_main!(benches);
