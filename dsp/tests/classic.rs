//! The classic suppressor removes stationary noise and leaves clean speech alone.

mod common;
use common::*;
use quell_dsp::metrics::{rms_dbfs, si_sdr};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;

const RATE: f32 = 48_000.0;
const SECONDS: f32 = 6.0;

/// SI-SDR of the noisy input and of Quell's output, after the first second (the tracker's adaptation).
fn improvement(noise: &[f32]) -> (f64, f64) {
    let clean = synth::voice(RATE, SECONDS, &Voice::default());
    let noisy: Vec<f32> = clean.iter().zip(noise).map(|(a, b)| a + b).collect();
    let mut e = engine(RATE, 1, MaskMode::Classic);
    let latency = e.latency_samples();
    let out = run_mono(&mut e, &noisy, Blocks::Fixed(480));
    let skip = RATE as usize;
    let end = clean.len() - latency;
    (
        si_sdr(&clean[skip..end], &noisy[skip..end]),
        si_sdr(&clean[skip..end], &aligned(&out, latency)[skip..end]),
    )
}

fn len() -> usize {
    (RATE * SECONDS).round() as usize
}

#[test]
fn white_noise_at_0_db_snr_improves_si_sdr_by_6_db() {
    let noise = synth::white(&mut Rng::new(21), len(), -20.0);
    let (before, after) = improvement(&noise);
    println!("white: {before:.2} dB -> {after:.2} dB");
    assert!(after - before >= 6.0, "white: {before:.2} -> {after:.2} dB");
}

#[test]
fn pink_noise_at_0_db_snr_improves_si_sdr_by_6_db() {
    let noise = synth::pink(&mut Rng::new(22), len(), -20.0);
    let (before, after) = improvement(&noise);
    println!("pink: {before:.2} dB -> {after:.2} dB");
    assert!(after - before >= 6.0, "pink: {before:.2} -> {after:.2} dB");
}

#[test]
fn clean_speech_keeps_its_level() {
    let clean = synth::voice(RATE, SECONDS, &Voice::default());
    let mut e = engine(RATE, 1, MaskMode::Classic);
    let latency = e.latency_samples();
    let out = run_mono(&mut e, &clean, Blocks::Fixed(480));
    // Measured after the tracker's first second, like the noise tests.
    let (skip, end) = (RATE as usize, clean.len() - latency);
    let change = rms_dbfs(&aligned(&out, latency)[skip..end]) - rms_dbfs(&clean[skip..end]);
    let whole = rms_dbfs(&aligned(&out, latency)[..end]) - rms_dbfs(&clean[..end]);
    println!(
        "clean level change {change:.3} dB ({whole:.3} dB over the whole file), SI-SDR {:.2} dB",
        si_sdr(&clean[skip..end], &aligned(&out, latency)[skip..end])
    );
    assert!(
        change.abs() < 0.5,
        "clean speech level changed by {change:.2} dB"
    );
}

/// Output level relative to the input, dB, in 250 ms steps from `from` (samples) to the end.
fn reduction_steps(input: &[f32], from: usize) -> Vec<f64> {
    let mut e = engine(RATE, 1, MaskMode::Classic);
    let latency = e.latency_samples();
    let out = run_mono(&mut e, input, Blocks::Fixed(256));
    let out = aligned(&out, latency);
    let step = RATE as usize / 4;
    (from..out.len().saturating_sub(step))
        .step_by(step)
        .map(|a| rms_dbfs(&out[a..a + step]) - rms_dbfs(&input[a..a + step]))
        .collect()
}

fn show(name: &str, steps: &[f64]) {
    let list: Vec<String> = steps.iter().map(|d| format!("{d:.0}")).collect();
    println!("{name}: dB per 250 ms: {}", list.join(" "));
}

#[test]
fn noise_that_starts_after_silence_is_reduced_within_a_second_and_a_half() {
    // A stream that opens muted, or a recording with a silent lead-in: the tracker must not keep the
    // silence as its noise floor for long. The minimum window slides in 250 ms steps, so the noise is
    // recognised 1 to 1.25 s after it starts, and the estimate has caught up a quarter of a second later.
    // (Before the sub-windows, up to two whole windows and a 1 dB-per-frame climb: 2 to 3 s.)
    for lead_ms in [5, 500, 1730] {
        let lead = RATE as usize * lead_ms / 1000;
        let mut input = vec![0.0; lead];
        input.extend(synth::white(&mut Rng::new(3), len(), -40.0));
        let steps = reduction_steps(&input, lead);
        show(&format!("silence {lead_ms} ms, then white noise"), &steps);
        // From 1.5 s after the onset on, every 250 ms is reduced by at least 12 dB.
        for (i, d) in steps.iter().enumerate().skip(6) {
            assert!(*d < -12.0, "lead {lead_ms} ms: {d:.1} dB at {} ms", i * 250);
        }
    }
}

#[test]
fn noise_that_rises_or_falls_by_20_db_is_followed() {
    let half = len() / 2;
    for (first, second) in [(-50.0, -30.0), (-30.0, -50.0)] {
        let mut input = synth::white(&mut Rng::new(4), half, first);
        input.extend(synth::white(&mut Rng::new(5), half, second));
        let steps = reduction_steps(&input, half);
        show(&format!("white {first} dBFS, then {second} dBFS"), &steps);
        // A louder noise is taken as speech until the minimum window has moved on (1.25 s at most, then a
        // quarter of a second to converge); a quieter one is followed at once.
        let settle = if second > first { 6 } else { 1 };
        for (i, d) in steps.iter().enumerate().skip(settle) {
            assert!(
                *d < -12.0,
                "{first} -> {second} dBFS: {d:.1} dB at {} ms",
                i * 250
            );
        }
    }
}
