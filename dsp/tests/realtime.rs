//! The real-time contract: no allocation inside `process`, and hostile input never poisons the engine.

mod common;
use common::alloc::allocations_during;
use common::*;
use quell_dsp::metrics::rms;
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_during(|| {
        let v = std::hint::black_box(vec![1u8; 100]);
        drop(v);
    });
    assert_eq!(n, 1);
}

#[test]
fn process_never_allocates() {
    for rate in RATES {
        for channels in [1usize, 2, 4] {
            for mode in [MaskMode::Classic, MaskMode::Unity] {
                let mut rng = Rng::new(1);
                let len = (rate * 1.0) as usize;
                let v = synth::voice(rate, 1.0, &Voice::default());
                let n = synth::white(&mut rng, len, -30.0);
                let mut bufs: Vec<Vec<f32>> = (0..channels)
                    .map(|_| v.iter().zip(&n).map(|(a, b)| a + b).collect())
                    .collect();
                let mut e = engine(rate, channels, mode);
                let sizes = [1usize, 7, 480, 4096, 333];
                let count = allocations_during(|| {
                    let mut pos = 0;
                    let mut i = 0;
                    while pos < len {
                        let step = sizes[i % sizes.len()].min(len - pos);
                        let mut slices: [&mut [f32]; 4] = Default::default();
                        for (s, b) in slices.iter_mut().zip(bufs.iter_mut()) {
                            *s = &mut b[pos..pos + step];
                        }
                        e.process(&mut slices[..channels]);
                        e.set_max_attenuation_db((i % 40) as f32);
                        pos += step;
                        i += 1;
                    }
                    e.reset();
                });
                assert_eq!(
                    count, 0,
                    "rate {rate} channels {channels} {mode:?}: {count} allocations"
                );
            }
        }
    }
}

fn noisy_voice(rate: f32, seconds: f32) -> Vec<f32> {
    let mut rng = Rng::new(4);
    let v = synth::voice(rate, seconds, &Voice::default());
    let n = synth::white(&mut rng, v.len(), -35.0);
    v.iter().zip(&n).map(|(a, b)| a + b).collect()
}

/// Frame RMS of `x` in 10 ms frames.
fn frame_rms(x: &[f32], hop: usize) -> Vec<f64> {
    x.chunks(hop).map(rms).collect()
}

#[test]
fn hostile_input_keeps_output_finite_and_the_engine_recovers() {
    for rate in [44_100.0, 48_000.0] {
        let clean = noisy_voice(rate, 4.0);
        let hop = (rate / 100.0).round() as usize;
        // Damage a copy between 1.5 s and 1.6 s with NaN, ±Inf, denormals and +40 dBFS bursts.
        let mut damaged = clean.clone();
        let (a, b) = ((1.5 * rate) as usize, (1.6 * rate) as usize);
        for (i, s) in damaged[a..b].iter_mut().enumerate() {
            *s = match i % 5 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                3 => 1e-40,
                _ => {
                    if i % 2 == 0 {
                        100.0
                    } else {
                        -100.0
                    }
                }
            };
        }
        let mut reference = engine(rate, 1, MaskMode::Classic);
        let mut e = engine(rate, 1, MaskMode::Classic);
        let latency = e.latency_samples();
        let want = run_mono(&mut reference, &clean, Blocks::Fixed(256));
        let got = run_mono(&mut e, &damaged, Blocks::Fixed(256));
        assert!(
            got.iter().all(|v| v.is_finite()),
            "rate {rate}: non-finite output"
        );
        // Within 10 frames (100 ms) of clean input, frames that carry speech (above −40 dBFS) have the level of
        // the undamaged run within 1 dB; after 1.5 s every frame does, including the suppressed noise floor (the
        // noise tracker freezes while the burst decays out of its smoothed power).
        let recovered_from = b + latency + 10 * hop;
        let (w, g) = (
            frame_rms(&want[recovered_from..], hop),
            frame_rms(&got[recovered_from..], hop),
        );
        for (i, (w, g)) in w.iter().zip(&g).enumerate() {
            if *w > 10f64.powf(-40.0 / 20.0) || (i >= 150 && *w > 1e-5) {
                let diff = 20.0 * (g / w).log10();
                assert!(
                    diff.abs() < 1.0,
                    "rate {rate}: frame {i} after recovery differs by {diff:.2} dB"
                );
            }
        }
        // And the damaged stretch itself is not amplified beyond the clamp.
        assert!(got
            .iter()
            .all(|v| v.abs() <= 2.0 * quell_dsp::stft::INPUT_CLAMP));
    }
}

#[test]
fn denormal_and_silent_input_stays_clean() {
    let mut e = engine(48_000.0, 2, MaskMode::Classic);
    let input = vec![vec![1e-39f32; 48_000], vec![0.0f32; 48_000]];
    let out = run(&mut e, &input, Blocks::Fixed(64));
    assert!(out
        .iter()
        .flatten()
        .all(|v| v.is_finite() && (*v == 0.0 || v.abs() > 1e-30)));
}
