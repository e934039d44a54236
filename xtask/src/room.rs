//! Synthetic room impulse responses for training and evaluation mixtures: a direct path, a handful of discrete
//! early reflections and an exponentially decaying diffuse tail whose treble dies away faster than its bass, as
//! in real rooms. The speech a listener hears as "the voice" is the direct path plus the early reflections
//! (the first [`EARLY_MS`] ms); the late tail is what smears syllables into each other, and is what the
//! suppressor may take away with the noise. So a room gives two responses: [`Room::full`] for the mixture and
//! [`Room::early`] for the target.
//!
//! These are statistical models of a room (exponential decay of a noise tail, as in Polack's model), not
//! image-method simulations of a particular geometry; they have no modal resonances below a few hundred Hz.

use crate::data::RATE;
use crate::mix::uniform;
use quell_dsp::synth::Rng;
use realfft::RealFftPlanner;

/// End of the early part of a response (direct path plus early reflections), milliseconds.
pub const EARLY_MS: f64 = 50.0;
/// Length of the raised-cosine fade that ends the early part, milliseconds.
const EARLY_FADE_MS: f64 = 5.0;

/// One room's impulse responses at 48 kHz, the direct path at sample 0 (so that a convolved signal stays
/// aligned with the dry one).
pub struct Room {
    /// The whole response: direct path, early reflections and late tail.
    pub full: Vec<f32>,
    /// The direct path and early reflections only (the first [`EARLY_MS`] ms, faded out over 5 ms).
    pub early: Vec<f32>,
    /// Reverberation time of the bass part of the tail, seconds (60 dB of decay).
    pub rt60_s: f64,
}

/// Ranges that a room is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct RoomRange {
    /// Reverberation time (60 dB) below about 2 kHz, seconds.
    pub rt60_s: (f64, f64),
    /// Energy of the late tail relative to the direct path, dB (low = close microphone).
    pub tail_db: (f64, f64),
}

impl Room {
    /// Draws a room from `range`. Allocates.
    pub fn random(rng: &mut Rng, range: RoomRange) -> Room {
        let rate = RATE as f64;
        let rt60 = uniform(rng, range.rt60_s.0, range.rt60_s.1);
        // Treble decays faster (air and wall absorption): 40–90 % of the bass decay time.
        let rt60_high = rt60 * uniform(rng, 0.4, 0.9);
        let len = ((rt60 * rate) as usize).max(64);
        let mut full = vec![0.0f32; len];
        full[0] = 1.0;

        // Early reflections: 4–10 discrete taps between 2 and 40 ms, weaker the later they come.
        let taps = 4 + (rng.uniform() * 7.0) as usize;
        for _ in 0..taps {
            let t = uniform(rng, 0.002, 0.040);
            let i = ((t * rate) as usize).min(len - 1);
            let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
            let amp = uniform(rng, 0.15, 0.6) * 10f64.powf(-3.0 * t / rt60);
            full[i] += (sign * amp) as f32;
        }

        // Diffuse tail: Gaussian noise under an exponential envelope, split at about 2 kHz into a bass part with
        // decay `rt60` and a treble part with `rt60_high`, ramping in over the first 5–20 ms.
        let onset = uniform(rng, 0.005, 0.020) * rate;
        let mut tail = vec![0.0f64; len];
        let lp_coef = (-2.0 * std::f64::consts::PI * 2_000.0 / rate).exp();
        let mut lp = 0.0f64;
        for (i, v) in tail.iter_mut().enumerate() {
            let n = rng.gaussian();
            lp = lp_coef * lp + (1.0 - lp_coef) * n;
            let hp = n - lp;
            let t = i as f64 / rate;
            let ramp = (i as f64 / onset).min(1.0);
            *v = ramp * (lp * 10f64.powf(-3.0 * t / rt60) + hp * 10f64.powf(-3.0 * t / rt60_high));
        }
        let tail_energy: f64 = tail.iter().map(|v| v * v).sum();
        let target = 10f64.powf(uniform(rng, range.tail_db.0, range.tail_db.1) / 10.0);
        let g = (target / tail_energy.max(1e-12)).sqrt();
        for (f, t) in full.iter_mut().zip(&tail) {
            *f += (t * g) as f32;
        }

        let early_end = (EARLY_MS * 1e-3 * rate) as usize;
        let fade = (EARLY_FADE_MS * 1e-3 * rate) as usize;
        let early: Vec<f32> = full
            .iter()
            .take(early_end.min(len))
            .enumerate()
            .map(|(i, &v)| {
                let from_end = early_end - i;
                if from_end >= fade {
                    v
                } else {
                    let x = from_end as f64 / fade as f64;
                    (v as f64 * 0.5 * (1.0 - (std::f64::consts::PI * x).cos())) as f32
                }
            })
            .collect();
        Room {
            full,
            early,
            rt60_s: rt60,
        }
    }
}

/// `x` convolved with `h`, cut to `x.len()` samples (the response's delay is kept, not compensated). FFT-based;
/// allocates.
pub fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return vec![0.0; x.len()];
    }
    let n = (x.len() + h.len() - 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let spectrum = |s: &[f32]| {
        let mut buf = vec![0.0f32; n];
        buf[..s.len()].copy_from_slice(s);
        let mut out = fwd.make_output_vec();
        fwd.process(&mut buf, &mut out)
            .expect("sizes from the plan");
        out
    };
    let (a, b) = (spectrum(x), spectrum(h));
    let mut prod: Vec<_> = a.iter().zip(&b).map(|(p, q)| p * q).collect();
    // The DC and Nyquist bins of a real signal's spectrum are real; rounding can leave a tiny imaginary part.
    prod[0].im = 0.0;
    if let Some(last) = prod.last_mut() {
        last.im = 0.0;
    }
    let mut out = vec![0.0f32; n];
    inv.process(&mut prod, &mut out)
        .expect("sizes from the plan");
    let scale = 1.0 / n as f32;
    out.truncate(x.len());
    out.iter_mut().for_each(|v| *v *= scale);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: RoomRange = RoomRange {
        rt60_s: (0.3, 0.9),
        tail_db: (-6.0, 6.0),
    };

    #[test]
    fn convolution_matches_the_direct_sum() {
        let mut rng = Rng::new(3);
        let x: Vec<f32> = (0..500).map(|_| rng.gaussian() as f32).collect();
        let h: Vec<f32> = (0..37).map(|_| rng.gaussian() as f32).collect();
        let y = convolve(&x, &h);
        assert_eq!(y.len(), x.len());
        for (n, &v) in y.iter().enumerate() {
            let direct: f32 = (0..=n.min(h.len() - 1)).map(|k| h[k] * x[n - k]).sum();
            assert!((v - direct).abs() < 1e-4, "{n}: {v} vs {direct}");
        }
    }

    #[test]
    fn a_room_decays_at_its_reverberation_time_and_its_early_part_is_the_head_of_it() {
        for seed in 0..8 {
            let room = Room::random(&mut Rng::new(seed), RANGE);
            assert_eq!(
                room.full[0], 1.0,
                "the direct path comes first, at unit gain"
            );
            assert!(room.full.iter().all(|v| v.is_finite()));
            let early_len = (EARLY_MS * 1e-3 * RATE as f64) as usize;
            assert_eq!(room.early.len(), early_len);
            // The early part is the response itself, up to the fade.
            let fade = (EARLY_FADE_MS * 1e-3 * RATE as f64) as usize;
            assert_eq!(
                room.early[..early_len - fade],
                room.full[..early_len - fade]
            );
            // Energy decay: the 100 ms window at 0.3·rt60 holds about 18 dB (60 dB × 0.3) less energy per
            // sample than the one just after the early part; allow for the noise and the faster treble.
            let rate = RATE as f64;
            let energy = |start_s: f64| {
                let (a, b) = ((start_s * rate) as usize, ((start_s + 0.1) * rate) as usize);
                room.full[a..b.min(room.full.len())]
                    .iter()
                    .map(|v| (*v as f64).powi(2))
                    .sum::<f64>()
            };
            let t2 = 0.05 + 0.3 * room.rt60_s;
            let drop_db = 10.0 * (energy(0.05) / energy(t2)).log10();
            assert!(
                (14.0..32.0).contains(&drop_db),
                "seed {seed}: {drop_db:.1} dB"
            );
        }
    }

    #[test]
    fn the_early_target_keeps_the_voice_and_the_tail_smears_it() {
        // A train of short bursts: the full room fills the gaps between them, the early part hardly does.
        let rate = RATE as usize;
        let mut x = vec![0.0f32; rate];
        let mut rng = Rng::new(9);
        for burst in 0..5 {
            let start = burst * rate / 5;
            for v in &mut x[start..start + rate / 50] {
                *v = rng.gaussian() as f32;
            }
        }
        let room = Room::random(&mut Rng::new(1), RANGE);
        let (full, early) = (convolve(&x, &room.full), convolve(&x, &room.early));
        let gap_energy = |y: &[f32]| -> f64 {
            (0..5)
                .map(|b| {
                    let s = b * rate / 5 + rate / 50 + rate / 10; // 100 ms after each burst's end
                    y[s..s + rate / 20]
                        .iter()
                        .map(|v| (*v as f64).powi(2))
                        .sum::<f64>()
                })
                .sum()
        };
        assert!(gap_energy(&early) < 1e-6 * gap_energy(&full).max(1e-30) + 1e-9);
        assert!(gap_energy(&full) > 0.0);
    }
}
