//! `cargo xtask pairs`: writes the held-out evaluation set, clean/noisy WAV pairs mixed only from the
//! validation speakers and validation noise files of `../shared/data`. The files go under `target/` (never into
//! the repository: they are cut from the corpus) and are the input of `cargo xtask eval --pairs`.

use crate::audio::{write_wav, WavFormat};
use crate::data::{self, Clip, RATE};
use crate::train::load_pool;
use anyhow::Result;
use quell_dsp::metrics::active_rms;
use quell_dsp::synth::Rng;
use std::path::PathBuf;

/// Options of `cargo xtask pairs`.
#[derive(clap::Args, Debug)]
pub struct PairsArgs {
    /// The corpus folder (with manifest.csv).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Where to write clean/ and noisy/.
    #[arg(long, default_value = "target/eval-pairs")]
    pub out: PathBuf,
    /// Pairs made from band-limited (16 kHz) speech.
    #[arg(long, default_value_t = 40)]
    pub narrow: usize,
    /// Pairs made from full-band speech mixed with full-band noise.
    #[arg(long, default_value_t = 24)]
    pub full: usize,
    /// Seed of the mixing choices.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

/// SNRs cycled through, dB.
const SNRS: [f32; 6] = [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0];
/// Active speech level of every clean file, dBFS.
const SPEECH_DBFS: f32 = -26.0;

/// A uniform index below `n` (n > 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    ((rng.uniform() * n as f64) as usize).min(n.saturating_sub(1))
}

/// Concatenates random clips of `speech` until at least 4 s (at most 8 s).
fn utterance(rng: &mut Rng, speech: &[&Clip]) -> Vec<f32> {
    let mut out = Vec::new();
    while out.len() < 4 * RATE as usize {
        let clip = speech[below(rng, speech.len())];
        out.extend_from_slice(&clip.samples);
    }
    out.truncate(8 * RATE as usize);
    out
}

/// Runs the command.
pub fn run(args: &PairsArgs) -> Result<()> {
    let entries = data::manifest(&args.data)?;
    let pool = load_pool(&args.data, &entries, "val")?;
    let narrow: Vec<&Clip> = pool
        .speech
        .iter()
        .filter(|c| c.bandwidth_hz <= 8_000.0)
        .collect();
    let full: Vec<&Clip> = pool
        .speech
        .iter()
        .filter(|c| c.bandwidth_hz >= 20_000.0)
        .collect();
    let all_noise: Vec<&Clip> = pool.noise.iter().collect();
    let full_noise: Vec<&Clip> = pool
        .noise
        .iter()
        .filter(|c| c.bandwidth_hz >= 20_000.0)
        .collect();
    for sub in ["clean", "noisy"] {
        std::fs::create_dir_all(args.out.join(sub))?;
    }
    let mut rng = Rng::new(args.seed);
    let groups = [
        ("nb", args.narrow, &narrow, &all_noise),
        ("fb", args.full, &full, &full_noise),
    ];
    let mut written = 0;
    for (prefix, count, speech, noise) in groups {
        if count > 0 && (speech.is_empty() || noise.is_empty()) {
            anyhow::bail!(
                "no validation {prefix} speech or noise in {}",
                args.data.display()
            );
        }
        for i in 0..count {
            let mut clean = utterance(&mut rng, speech);
            let g = 10f32.powf(SPEECH_DBFS / 20.0) / (active_rms(&clean, RATE) as f32).max(1e-9);
            clean.iter_mut().for_each(|v| *v *= g);
            let src = &noise[below(&mut rng, noise.len())].samples;
            let start = below(&mut rng, src.len().max(1));
            let mut n: Vec<f32> = (0..clean.len())
                .map(|k| src[(start + k) % src.len()])
                .collect();
            let snr = SNRS[i % SNRS.len()];
            let speech_power = (active_rms(&clean, RATE) as f32).powi(2);
            let noise_power = n.iter().map(|v| v * v).sum::<f32>() / n.len() as f32;
            let gn = (speech_power / noise_power.max(1e-12) / 10f32.powf(snr / 10.0)).sqrt();
            n.iter_mut().for_each(|v| *v *= gn);
            let mut noisy: Vec<f32> = clean.iter().zip(&n).map(|(a, b)| a + b).collect();
            let peak = noisy.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if peak > 0.95 {
                let s = 0.95 / peak;
                noisy.iter_mut().for_each(|v| *v *= s);
                clean.iter_mut().for_each(|v| *v *= s);
            }
            let name = format!("{prefix}-{i:03}-snr{snr:+03.0}.wav");
            write_wav(
                &args.out.join("clean").join(&name),
                RATE,
                &clean,
                WavFormat::Float32,
            )?;
            write_wav(
                &args.out.join("noisy").join(&name),
                RATE,
                &noisy,
                WavFormat::Float32,
            )?;
            written += 1;
        }
    }
    println!("wrote {written} pairs to {}", args.out.display());
    Ok(())
}
