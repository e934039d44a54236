//! Hear the engine without a DAW: synthesises a voice in noise, suppresses it, writes `out/demo-*.wav` and prints
//! what changed.
//!
//! `cargo run --release -p quell-dsp --example demo`

use quell_dsp::metrics::{rms_dbfs, si_sdr};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::{Engine, EngineConfig, MaskMode};

fn write(path: &str, rate: u32, x: &[f32]) -> Result<(), Box<dyn std::error::Error>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in x {
        w.write_sample(s)?;
    }
    w.finalize()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rate = 48_000.0;
    let seconds = 6.0;
    let clean = synth::voice(rate, seconds, &Voice::default());
    let mut rng = Rng::new(1);
    let len = clean.len();
    let noises = [
        ("white", synth::white(&mut rng, len, -20.0)),
        ("pink", synth::pink(&mut rng, len, -20.0)),
    ];
    std::fs::create_dir_all("out")?;
    write("out/demo-clean.wav", rate as u32, &clean)?;
    println!("Quell engine demo: synthetic voice at -20 dBFS in noise at 0 dB SNR, 48 kHz, classic mask, 30 dB max attenuation");
    for (name, noise) in noises {
        let noisy: Vec<f32> = clean.iter().zip(&noise).map(|(a, b)| a + b).collect();
        let mut engine = Engine::new(EngineConfig {
            sample_rate: rate,
            channels: 1,
        })?;
        engine.set_mode(MaskMode::Classic);
        let latency = engine.latency_samples();
        let mut out = noisy.clone();
        out.extend(std::iter::repeat_n(0.0, latency));
        for block in out.chunks_mut(512) {
            engine.process(&mut [block]);
        }
        let out = &out[latency..];
        let skip = rate as usize; // the noise tracker's first second of adaptation
        println!(
            "{name:>5} noise: SI-SDR {:6.2} dB -> {:6.2} dB, level {:6.2} dBFS -> {:6.2} dBFS (latency {latency} samples)",
            si_sdr(&clean[skip..], &noisy[skip..]),
            si_sdr(&clean[skip..], &out[skip..]),
            rms_dbfs(&noisy),
            rms_dbfs(out)
        );
        write(&format!("out/demo-{name}-noisy.wav"), rate as u32, &noisy)?;
        write(&format!("out/demo-{name}-quell.wav"), rate as u32, out)?;
    }
    println!("wrote out/demo-*.wav");
    Ok(())
}
