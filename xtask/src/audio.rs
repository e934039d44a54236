//! Decoding audio (FLAC with claxon, Ogg Vorbis with lewton, WAV with hound), writing WAV, and resampling.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Sample formats [`write_wav`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// 32-bit IEEE float, unscaled.
    Float32,
    /// 16-bit integer, rounded and clamped to full scale (no dither).
    Int16,
}

/// Writes `x` (mono) as a WAV file at `rate` Hz.
pub fn write_wav(path: &Path, rate: u32, x: &[f32], format: WavFormat) -> Result<()> {
    let (bits, sample_format) = match format {
        WavFormat::Float32 => (32, hound::SampleFormat::Float),
        WavFormat::Int16 => (16, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    for &s in x {
        match format {
            WavFormat::Float32 => w.write_sample(s)?,
            WavFormat::Int16 => {
                w.write_sample((s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)?
            }
        }
    }
    w.finalize()
        .with_context(|| format!("finishing {}", path.display()))?;
    Ok(())
}

/// Decodes a mono (or first-channel) file to f32 in -1..1 and returns it with its sample rate (Hz).
pub fn decode(path: &Path) -> Result<(Vec<f32>, u32)> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "flac" => {
            let mut reader = claxon::FlacReader::open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            let info = reader.streaminfo();
            let channels = info.channels as usize;
            let scale = 1.0 / (1u64 << (info.bits_per_sample - 1)) as f32;
            let mut out = Vec::with_capacity(info.samples.unwrap_or(0) as usize);
            for (i, s) in reader.samples().enumerate() {
                let s = s.with_context(|| format!("decoding {}", path.display()))?;
                if i % channels == 0 {
                    out.push(s as f32 * scale);
                }
            }
            Ok((out, info.sample_rate))
        }
        "wav" => {
            let mut reader = hound::WavReader::open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            let spec = reader.spec();
            let channels = usize::from(spec.channels.max(1));
            let samples: Vec<f32> = match spec.sample_format {
                hound::SampleFormat::Float => reader
                    .samples::<f32>()
                    .step_by(channels)
                    .collect::<Result<_, _>>()?,
                hound::SampleFormat::Int => {
                    let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
                    reader
                        .samples::<i32>()
                        .step_by(channels)
                        .map(|s| s.map(|v| v as f32 * scale))
                        .collect::<Result<_, _>>()?
                }
            };
            Ok((samples, spec.sample_rate))
        }
        "ogg" => {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let mut reader =
                lewton::inside_ogg::OggStreamReader::new(std::io::BufReader::new(file))
                    .with_context(|| format!("reading Ogg headers of {}", path.display()))?;
            let channels = reader.ident_hdr.audio_channels as usize;
            let rate = reader.ident_hdr.audio_sample_rate;
            let mut out = Vec::new();
            while let Some(packet) = reader
                .read_dec_packet_itl()
                .with_context(|| format!("decoding {}", path.display()))?
            {
                out.extend(
                    packet
                        .iter()
                        .step_by(channels.max(1))
                        .map(|&s| s as f32 / 32768.0),
                );
            }
            Ok((out, rate))
        }
        other => bail!(
            "{}: unsupported audio format '.{other}' (expected .flac, .ogg or .wav)",
            path.display()
        ),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Resamples `x` from `from` Hz to `to` Hz with a windowed-sinc polyphase filter (16 zero crossings each side,
/// cut-off at 0.95 × the lower Nyquist). Allocates.
pub fn resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to {
        return x.to_vec();
    }
    let g = gcd(from as u64, to as u64);
    let (up, down) = ((to as u64 / g) as usize, (from as u64 / g) as usize);
    let cutoff = 0.95 * (to.min(from) as f64 / from as f64); // relative to the input Nyquist
    const ZEROS: usize = 16;
    let half = (ZEROS as f64 / cutoff).ceil() as isize;
    // One filter per fractional position r/up between input samples.
    let phases: Vec<Vec<f32>> = (0..up)
        .map(|r| {
            let frac = r as f64 / up as f64;
            (-half..=half)
                .map(|k| {
                    let t = k as f64 - frac;
                    let arg = std::f64::consts::PI * cutoff * t;
                    let sinc = if arg.abs() < 1e-12 {
                        1.0
                    } else {
                        arg.sin() / arg
                    };
                    let w = t / (half as f64 + 1.0);
                    let window = if w.abs() >= 1.0 {
                        0.0
                    } else {
                        0.5 + 0.5 * (std::f64::consts::PI * w).cos()
                    };
                    (cutoff * sinc * window) as f32
                })
                .collect()
        })
        .collect();
    let out_len = (x.len() as u64 * up as u64 / down as u64) as usize;
    let mut out = Vec::with_capacity(out_len);
    for m in 0..out_len {
        let pos = m * down;
        let base = (pos / up) as isize;
        let phase = &phases[pos % up];
        let mut acc = 0.0f32;
        for (j, h) in phase.iter().enumerate() {
            let idx = base + j as isize - half;
            if idx >= 0 && (idx as usize) < x.len() {
                acc += h * x[idx as usize];
            }
        }
        out.push(acc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_a_sine() {
        for (from, to) in [
            (16_000u32, 48_000u32),
            (44_100, 48_000),
            (24_000, 48_000),
            (20_000, 48_000),
        ] {
            let f = 1000.0;
            let x: Vec<f32> = (0..from as usize)
                .map(|n| (2.0 * std::f32::consts::PI * f * n as f32 / from as f32).sin())
                .collect();
            let y = resample(&x, from, to);
            assert_eq!(y.len(), to as usize);
            let mut worst = 0.0f32;
            for (m, v) in y.iter().enumerate().skip(200).take(to as usize - 400) {
                let want = (2.0 * std::f32::consts::PI * f * m as f32 / to as f32).sin();
                worst = worst.max((v - want).abs());
            }
            assert!(worst < 2e-3, "{from}->{to}: {worst}");
        }
    }
}
