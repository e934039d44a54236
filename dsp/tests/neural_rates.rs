//! The shipped model at the rates files and hosts run at, 8 kHz (telephone) to 48 kHz: at every one it must
//! reduce the noise and keep the speech. Below 40 kHz the engine has no band above the Nyquist frequency, which
//! the model shipped until 2026-12-06 had never seen in training (`docs/model.md`, "Lower sample rates").

mod common;
use common::*;
use quell_dsp::metrics::{active_rms, rms, si_sdr};
use quell_dsp::neural::{shipped_weights, NeuralMask};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;

/// A voice that is the same signal at every rate from 8 kHz (harmonics up to 3.8 kHz), 3 s long.
fn voice(rate: f32) -> Vec<f32> {
    synth::voice(
        rate,
        3.0,
        &Voice {
            max_hz: 3_800.0,
            ..Voice::default()
        },
    )
}

/// `x` through the neural engine with the shipped model, in 333-sample blocks, aligned with the input.
fn denoise(rate: f32, x: &[f32]) -> Vec<f32> {
    let weights = shipped_weights()
        .expect("the build ships a model")
        .expect("the shipped model loads");
    let mut e = engine(rate, 1, MaskMode::Neural);
    e.set_model(Some(NeuralMask::new(&weights)));
    let latency = e.latency_samples();
    let mut padded = x.to_vec();
    padded.resize(x.len() + latency, 0.0);
    let out = run_mono(&mut e, &padded, Blocks::Fixed(333));
    aligned(&out, latency).to_vec()
}

#[test]
fn at_every_rate_noise_is_reduced_and_clean_speech_is_kept() {
    for rate in [8_000.0, 16_000.0, 22_050.0, 32_000.0, 44_100.0, 48_000.0] {
        let clean = voice(rate);
        // Pink noise 5 dB under the voice's active level.
        let mut rng = Rng::new(17);
        let level = 20.0 * active_rms(&clean, rate as u32).log10();
        let noise = synth::pink(&mut rng, clean.len(), (level - 5.0) as f32);
        let noisy: Vec<f32> = clean.iter().zip(&noise).map(|(a, b)| a + b).collect();
        // The first second lets the recurrent state settle; score the rest.
        let skip = rate as usize;
        let out = denoise(rate, &noisy);
        let before = si_sdr(&clean[skip..], &noisy[skip..]);
        let after = si_sdr(&clean[skip..], &out[skip..]);
        assert!(
            after - before > 6.0,
            "{rate} Hz: SI-SDR {before:.1} dB in, {after:.1} dB out"
        );
        // The clean voice alone comes through nearly untouched.
        let kept = denoise(rate, &clean);
        let fidelity = si_sdr(&clean[skip..], &kept[skip..]);
        let level_db = 20.0 * (rms(&kept[skip..]) / rms(&clean[skip..])).log10();
        assert!(
            fidelity > 18.0,
            "{rate} Hz: clean voice at {fidelity:.1} dB SI-SDR"
        );
        assert!(
            level_db.abs() < 1.0,
            "{rate} Hz: clean voice level {level_db:+.2} dB"
        );
        println!("{rate} Hz: SI-SDR {before:.1} -> {after:.1} dB; clean voice {fidelity:.1} dB, {level_db:+.2} dB");
    }
}
