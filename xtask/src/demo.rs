//! `cargo xtask demo-clip`: makes `assets/demo/noisy.wav`, the README's demo input, entirely from material the
//! project generates itself: speech synthesised by `espeak-ng` plus seeded synthetic noise (a fan-like brown
//! noise, mains hum and keyboard-like clicks). Nothing from `../shared/data` is used.

use crate::audio::resample;
use anyhow::{bail, Context, Result};
use quell_dsp::synth::{self, Rng};
use std::path::PathBuf;
use std::process::Command;

/// Options of `cargo xtask demo-clip`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Output file.
    #[arg(long, default_value = "assets/demo/noisy.wav")]
    pub out: PathBuf,
}

const TEXT: &str = "Hello, and welcome to Quell. This recording was made next to a noisy fan, with a humming \
cable and a keyboard. Quell keeps the voice and removes the rest, in real time, on any sample rate.";

/// Runs the command.
pub fn run(args: &DemoArgs) -> Result<()> {
    let wav = std::env::temp_dir().join(format!("quell-demo-{}.wav", std::process::id()));
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(TEXT)
        .status()
        .context("running espeak-ng (install it with: apt-get install espeak-ng)")?;
    if !status.success() {
        bail!("espeak-ng failed: {status}");
    }
    let (speech, rate) = crate::audio::decode(&wav)?;
    let _ = std::fs::remove_file(&wav);
    let mut speech = resample(&speech, rate, 48_000);
    synth::set_rms_dbfs(&mut speech, -22.0);
    // Half a second of room before and after.
    let pad = vec![0.0; 24_000];
    let clean: Vec<f32> = pad.iter().chain(&speech).chain(&pad).copied().collect();
    let len = clean.len();
    let mut rng = Rng::new(7);
    let fan = synth::brown(&mut rng, len, -34.0);
    let hiss = synth::pink(&mut rng, len, -40.0);
    let hum = synth::hum(48_000.0, len, 50.0, 6, -42.0);
    let mut noisy: Vec<f32> = (0..len)
        .map(|i| clean[i] + fan[i] + hiss[i] + hum[i])
        .collect();
    // Keyboard-like clicks: short decaying noise bursts at irregular intervals.
    let mut at = 12_000usize;
    while at + 2_000 < len {
        let amp = 0.05 + 0.05 * rng.uniform() as f32;
        for k in 0..1_500 {
            noisy[at + k] += amp * (rng.gaussian() as f32) * (-(k as f32) / 180.0).exp();
        }
        at += 6_000 + (rng.uniform() * 14_000.0) as usize;
    }
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::audio::write_wav(&args.out, 48_000, &noisy, crate::audio::WavFormat::Int16)?;
    println!(
        "wrote {} ({:.1} s)",
        args.out.display(),
        len as f64 / 48_000.0
    );
    Ok(())
}
