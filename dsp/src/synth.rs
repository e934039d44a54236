//! Seeded test signals: noises and a synthetic voice. Used by tests, benchmarks, the demo and the trainer's
//! synthetic noises. Every generator allocates the returned vector and nothing else.

pub use crate::rng::Rng;
use std::f64::consts::PI;

/// Scales `x` in place to an RMS level of `rms_dbfs` dB relative to full scale (1.0).
pub fn set_rms_dbfs(x: &mut [f32], rms_dbfs: f32) {
    let rms = crate::metrics::rms(x);
    if rms > 0.0 {
        let g = 10f64.powf(rms_dbfs as f64 / 20.0) / rms;
        x.iter_mut().for_each(|v| *v = (*v as f64 * g) as f32);
    }
}

/// White Gaussian noise of `len` samples at `rms_dbfs` dB RMS.
pub fn white(rng: &mut Rng, len: usize, rms_dbfs: f32) -> Vec<f32> {
    let mut x: Vec<f32> = (0..len).map(|_| rng.gaussian() as f32).collect();
    set_rms_dbfs(&mut x, rms_dbfs);
    x
}

/// Pink (1/f) noise of `len` samples at `rms_dbfs` dB RMS (Kellet's filtered-white approximation, ±0.05 dB
/// from 1/f above 10 Hz at 44.1–48 kHz).
pub fn pink(rng: &mut Rng, len: usize, rms_dbfs: f32) -> Vec<f32> {
    let mut b = [0.0f64; 7];
    let mut x: Vec<f32> = (0..len)
        .map(|_| {
            let w = rng.gaussian();
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            out as f32
        })
        .collect();
    set_rms_dbfs(&mut x, rms_dbfs);
    x
}

/// Brown (1/f²) noise of `len` samples at `rms_dbfs` dB RMS (leaky integrated white noise).
pub fn brown(rng: &mut Rng, len: usize, rms_dbfs: f32) -> Vec<f32> {
    let mut acc = 0.0f64;
    let mut x: Vec<f32> = (0..len)
        .map(|_| {
            acc = 0.998 * acc + rng.gaussian();
            acc as f32
        })
        .collect();
    set_rms_dbfs(&mut x, rms_dbfs);
    x
}

/// Mains hum: `fundamental_hz` (50 or 60) and its first `harmonics` harmonics with 1/k amplitudes, at
/// `rms_dbfs` dB RMS.
pub fn hum(
    rate: f32,
    len: usize,
    fundamental_hz: f32,
    harmonics: usize,
    rms_dbfs: f32,
) -> Vec<f32> {
    let mut x: Vec<f32> = (0..len)
        .map(|n| {
            let t = n as f64 / rate as f64;
            (1..=harmonics)
                .map(|k| (2.0 * PI * fundamental_hz as f64 * k as f64 * t).sin() / k as f64)
                .sum::<f64>() as f32
        })
        .collect();
    set_rms_dbfs(&mut x, rms_dbfs);
    x
}

/// Description of a synthetic voice: a band-limited glottal pulse train shaped by vowel formants.
#[derive(Debug, Clone, Copy)]
pub struct Voice {
    /// Fundamental at the start, Hz.
    pub f0_start_hz: f32,
    /// Fundamental at the end (linear glide), Hz.
    pub f0_end_hz: f32,
    /// Highest harmonic frequency synthesised, Hz (keeps the signal identical at every rate above 2× this).
    pub max_hz: f32,
    /// Syllable rate, Hz: the voice is cut into syllables (80 % voiced with 15 ms ramps), four to a phrase, with a
    /// pause of two syllables after each phrase, like read speech. 0 = one steady vowel.
    pub syllable_hz: f32,
    /// RMS level of the voiced parts, dBFS.
    pub rms_dbfs: f32,
}

impl Default for Voice {
    fn default() -> Self {
        Voice {
            f0_start_hz: 120.0,
            f0_end_hz: 150.0,
            max_hz: 7_800.0,
            syllable_hz: 4.0,
            rms_dbfs: -20.0,
        }
    }
}

/// Vowel formant envelope (Lorentzian peaks at /a/ formants with a −6 dB/octave glottal tilt), linear.
fn formant_envelope(f: f64) -> f64 {
    const FORMANTS: [(f64, f64, f64); 4] = [
        (730.0, 90.0, 1.0),
        (1090.0, 110.0, 0.5),
        (2440.0, 160.0, 0.25),
        (3400.0, 250.0, 0.1),
    ];
    let peaks: f64 = FORMANTS
        .iter()
        .map(|(fc, bw, a)| a / (1.0 + ((f - fc) / (0.5 * bw)).powi(2)))
        .sum();
    (peaks + 0.02) * 200.0 / f.max(100.0)
}

/// Amplitude envelope of syllables at `rate_hz`, four to a phrase with a two-syllable pause, 0..=1.
fn syllable_envelope(t: f64, rate_hz: f64) -> f64 {
    let syllable = 1.0 / rate_hz;
    let phrase = 6.0 * syllable;
    let in_phrase = t % phrase;
    if in_phrase >= 4.0 * syllable {
        return 0.0;
    }
    let local = in_phrase % syllable;
    let voiced = 0.8 * syllable;
    let ramp = 0.015;
    if local >= voiced {
        0.0
    } else {
        let edge = (local / ramp).min((voiced - local) / ramp).min(1.0);
        (0.5 - 0.5 * (PI * edge).cos()).sqrt()
    }
}

/// Synthesises `seconds` of `voice` at `rate` Hz. The same continuous signal is sampled at every rate.
pub fn voice(rate: f32, seconds: f32, voice: &Voice) -> Vec<f32> {
    let len = (seconds * rate).round() as usize;
    let dt = 1.0 / rate as f64;
    let mut phase = 0.0f64;
    let mut x = Vec::with_capacity(len);
    for n in 0..len {
        let t = n as f64 * dt;
        let f0 = voice.f0_start_hz as f64
            + (voice.f0_end_hz - voice.f0_start_hz) as f64 * t / seconds as f64;
        let harmonics = (voice.max_hz as f64 / f0).floor() as usize;
        let mut v = 0.0;
        for k in 1..=harmonics {
            v += formant_envelope(k as f64 * f0) * (k as f64 * phase).cos();
        }
        let env = if voice.syllable_hz > 0.0 {
            syllable_envelope(t, voice.syllable_hz as f64)
        } else {
            1.0
        };
        x.push((v * env) as f32);
        phase = (phase + 2.0 * PI * f0 * dt) % (2.0 * PI * 1e6);
    }
    set_rms_dbfs(&mut x, voice.rms_dbfs);
    x
}
