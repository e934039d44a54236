//! Short-Time Objective Intelligibility (STOI; Taal, Hendriks, Heusdens and Jensen, IEEE TASLP 2011), written
//! from the paper's description: 10 kHz, 256-sample Hann frames with 50 % overlap, silent frames (more than
//! 40 dB below the loudest clean frame) removed, 15 one-third-octave bands from 150 Hz, 30-frame (384 ms)
//! segments, the processed envelope normalised and clipped at −15 dB signal-to-distortion, and the mean
//! correlation of the envelopes. Cross-checked against PyPI `pystoi` (see docs/quality.md).

use crate::audio::resample;
use realfft::RealFftPlanner;

const FS: u32 = 10_000;
const FRAME: usize = 256;
const HOP: usize = 128;
const NFFT: usize = 512;
const BANDS: usize = 15;
const MIN_FREQ: f64 = 150.0;
const SEGMENT: usize = 30;
const BETA_DB: f64 = -15.0;
const DYN_RANGE_DB: f64 = 40.0;
const EPS: f64 = f64::EPSILON;

/// STOI of `processed` against `clean` (both at `rate` Hz, time-aligned), 0..1 (higher is more intelligible).
/// Returns `None` when the clean signal is too short or silent to hold one 384 ms segment. Allocates.
pub fn stoi(clean: &[f32], processed: &[f32], rate: u32) -> Option<f64> {
    let n = clean.len().min(processed.len());
    let x = resample(&clean[..n], rate, FS);
    let y = resample(&processed[..n], rate, FS);
    let window: Vec<f64> = (1..=FRAME)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (FRAME + 1) as f64).cos())
        .collect();
    let (x, y) = remove_silent_frames(&x, &y, &window);
    let xs = third_octave_envelopes(&x, &window);
    let ys = third_octave_envelopes(&y, &window);
    let frames = xs.len();
    if frames < SEGMENT {
        return None;
    }
    let clip = 1.0 + 10f64.powf(-BETA_DB / 20.0);
    let (mut total, mut count) = (0.0, 0usize);
    for m in SEGMENT..=frames {
        for b in 0..BANDS {
            let xseg: Vec<f64> = (m - SEGMENT..m).map(|t| xs[t][b]).collect();
            let yseg: Vec<f64> = (m - SEGMENT..m).map(|t| ys[t][b]).collect();
            let alpha = norm(&xseg) / (norm(&yseg) + EPS);
            let yprime: Vec<f64> = yseg
                .iter()
                .zip(&xseg)
                .map(|(yv, xv)| (yv * alpha).min(xv * clip))
                .collect();
            total += correlation(&xseg, &yprime);
            count += 1;
        }
    }
    Some(total / count as f64)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let ma = a.iter().sum::<f64>() / a.len() as f64;
    let mb = b.iter().sum::<f64>() / b.len() as f64;
    let da: Vec<f64> = a.iter().map(|v| v - ma).collect();
    let db: Vec<f64> = b.iter().map(|v| v - mb).collect();
    let dot: f64 = da.iter().zip(&db).map(|(p, q)| p * q).sum();
    dot / ((norm(&da) + EPS) * (norm(&db) + EPS))
}

/// Frame starts of a signal of `len` samples (only frames that end before the last sample).
fn starts(len: usize) -> impl Iterator<Item = usize> {
    (0..len.saturating_sub(FRAME)).step_by(HOP)
}

/// Drops the frames where the clean signal is more than 40 dB below its loudest frame, from both signals, and
/// overlap-adds what is left.
fn remove_silent_frames(x: &[f32], y: &[f32], window: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let frame = |s: &[f32], at: usize| -> Vec<f64> {
        (0..FRAME)
            .map(|i| window[i] * f64::from(s[at + i]))
            .collect()
    };
    let kept_frames: Vec<(Vec<f64>, Vec<f64>)> = {
        let all: Vec<(Vec<f64>, Vec<f64>)> = starts(x.len())
            .map(|at| (frame(x, at), frame(y, at)))
            .collect();
        let energy: Vec<f64> = all
            .iter()
            .map(|(xf, _)| 20.0 * (norm(xf) + EPS).log10())
            .collect();
        let max = energy.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        all.into_iter()
            .zip(energy)
            .filter(|(_, e)| *e > max - DYN_RANGE_DB)
            .map(|(f, _)| f)
            .collect()
    };
    let len = if kept_frames.is_empty() {
        0
    } else {
        (kept_frames.len() - 1) * HOP + FRAME
    };
    let (mut xo, mut yo) = (vec![0.0; len], vec![0.0; len]);
    for (k, (xf, yf)) in kept_frames.iter().enumerate() {
        for i in 0..FRAME {
            xo[k * HOP + i] += xf[i];
            yo[k * HOP + i] += yf[i];
        }
    }
    (xo, yo)
}

/// One-third-octave band envelopes (magnitude) per frame.
fn third_octave_envelopes(s: &[f64], window: &[f64]) -> Vec<[f64; BANDS]> {
    let bins = NFFT / 2 + 1;
    let freq = |k: usize| k as f64 * f64::from(FS) / NFFT as f64;
    let nearest = |f: f64| {
        (0..bins)
            .min_by(|&a, &b| (freq(a) - f).abs().total_cmp(&(freq(b) - f).abs()))
            .unwrap_or(0)
    };
    let edges: Vec<(usize, usize)> = (0..BANDS)
        .map(|k| {
            let k = k as f64;
            (
                nearest(MIN_FREQ * 2f64.powf((2.0 * k - 1.0) / 6.0)),
                nearest(MIN_FREQ * 2f64.powf((2.0 * k + 1.0) / 6.0)),
            )
        })
        .collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(NFFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut out = Vec::new();
    for at in (0..s.len().saturating_sub(FRAME)).step_by(HOP) {
        input.fill(0.0);
        for i in 0..FRAME {
            input[i] = window[i] * s[at + i];
        }
        if fft.process(&mut input, &mut spectrum).is_err() {
            continue;
        }
        let mut env = [0.0; BANDS];
        for (b, &(lo, hi)) in edges.iter().enumerate() {
            env[b] = spectrum[lo..hi]
                .iter()
                .map(|c| c.norm_sqr())
                .sum::<f64>()
                .sqrt();
        }
        out.push(env);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quell_dsp::synth::{self, Rng, Voice};

    #[test]
    fn stoi_ranks_degradations() {
        let clean = synth::voice(16_000.0, 3.0, &Voice::default());
        let mut rng = Rng::new(4);
        let noise = synth::white(&mut rng, clean.len(), -20.0);
        let mix =
            |g: f32| -> Vec<f32> { clean.iter().zip(&noise).map(|(a, b)| a + g * b).collect() };
        let same = stoi(&clean, &clean, 16_000).unwrap();
        let light = stoi(&clean, &mix(0.1), 16_000).unwrap();
        let heavy = stoi(&clean, &mix(3.0), 16_000).unwrap();
        assert!((same - 1.0).abs() < 1e-6, "identical signals: {same}");
        assert!(
            light < same && heavy < light - 0.1,
            "{same} {light} {heavy}"
        );
        // A level change alone does not matter.
        let louder: Vec<f32> = clean.iter().map(|v| 2.0 * v).collect();
        assert!((stoi(&clean, &louder, 16_000).unwrap() - 1.0).abs() < 1e-6);
        assert!(stoi(&clean[..1000], &clean[..1000], 16_000).is_none());
    }
}
