//! Pitch period estimation on a rate-independent 16 kHz view of the spectrum.
//!
//! The frame spectrum has 50 Hz bins at every host rate, so its first 161 bins (0–8 kHz) are, after an inverse
//! 320-point FFT, a windowed 20 ms frame of the same signal low-passed and sampled at 16 kHz. Overlap-adding those
//! frames gives a continuous 16 kHz stream whatever the host rate, and the pitch search runs on that stream. The
//! estimate (and therefore the pitch features) is the same at 44.1, 48 and 96 kHz.
//!
//! The search is a normalised cross-correlation of the newest 20 ms against every lag from 1.25 ms (800 Hz) to
//! 16 ms (62.5 Hz), computed with FFTs, followed by a check of sub-multiples of the best lag (to avoid picking
//! twice the period) and parabolic refinement. The stream lags the current frame by one hop (10 ms).

use crate::window::vorbis_into;
use crate::FrameLayout;
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Length of the 16 kHz frame, samples.
const FRAME: usize = 320;
/// Hop of the 16 kHz stream, samples.
const HOP: usize = FRAME / 2;
/// Shortest lag searched, 16 kHz samples (800 Hz).
pub const MIN_LAG: usize = 20;
/// Longest lag searched, 16 kHz samples (62.5 Hz).
pub const MAX_LAG: usize = 256;
/// Correlation window, 16 kHz samples (20 ms).
const CORR: usize = 320;
/// History kept, 16 kHz samples.
const BUF: usize = MAX_LAG + CORR;
/// FFT size for the correlation (no circular wrap for lags up to MAX_LAG).
const CORR_FFT: usize = 1024;
/// Below this spectrum energy (Σ|X|² of 0–8 kHz; about −80 dBFS RMS) a frame has no pitch: the period is held
/// and the correlation reads 0.
const SILENT_ENERGY: f32 = 5e-9;
/// Highest bin used for the pitch search (4 kHz): above it a voice's harmonics are weak against most noises.
const PITCH_MAX_BIN: usize = 80;
/// Exponent of the whitening: 0.5 would flatten the envelope completely; partial whitening keeps the strong
/// low harmonics ahead of the noise.
const WHITEN_POWER: f32 = 0.35;
/// Half-width of the whitening neighbourhood, bins (±200 Hz).
const WHITEN_BINS: usize = 4;
/// A sub-multiple of the best lag is preferred when its correlation reaches this fraction of the best.
const SUBMULTIPLE_RATIO: f32 = 0.85;

/// One pitch estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchEstimate {
    /// Pitch period, seconds (between 1/800 s and 1/62.5 s).
    pub period_seconds: f32,
    /// Normalised correlation at that period, -1..=1 (near 1 for strongly voiced frames, 0 in silence).
    pub correlation: f32,
}

impl PitchEstimate {
    /// Pitch frequency, Hz.
    pub fn frequency_hz(&self) -> f32 {
        1.0 / self.period_seconds
    }
}

/// Streaming pitch tracker. Allocates at construction only; [`PitchTracker::analyze`] does not allocate.
pub struct PitchTracker {
    /// Host frame geometry (for the warp of the 16 kHz stream at rates whose bins are not exactly 50 Hz).
    stream_rate: f32,
    inv16: Arc<dyn ComplexToReal<f32>>,
    fwd_corr: Arc<dyn RealToComplex<f32>>,
    inv_corr: Arc<dyn ComplexToReal<f32>>,
    spec16: Vec<Complex32>,
    envelope: Vec<f32>,
    frame16: Vec<f32>,
    win16: Vec<f32>,
    ola16: Vec<f32>,
    buf: Vec<f32>,
    prefix: Vec<f64>,
    corr_time: Vec<f32>,
    corr_a: Vec<Complex32>,
    corr_b: Vec<Complex32>,
    ncc: Vec<f32>,
    scratch: Vec<Complex32>,
    last: PitchEstimate,
}

impl PitchTracker {
    /// Builds a tracker for spectra of `layout`. Allocates and plans FFTs.
    pub fn new(layout: &FrameLayout) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let inv16 = planner.plan_fft_inverse(FRAME);
        let fwd_corr = planner.plan_fft_forward(CORR_FFT);
        let inv_corr = planner.plan_fft_inverse(CORR_FFT);
        let scratch_len = inv16
            .get_scratch_len()
            .max(fwd_corr.get_scratch_len())
            .max(inv_corr.get_scratch_len());
        let mut win16 = vec![0.0; FRAME];
        vorbis_into(&mut win16);
        PitchTracker {
            stream_rate: FRAME as f32 * layout.bin_hz,
            inv16,
            fwd_corr,
            inv_corr,
            spec16: vec![Complex32::default(); FRAME / 2 + 1],
            envelope: vec![0.0; FRAME / 2 + 1],
            frame16: vec![0.0; FRAME],
            win16,
            ola16: vec![0.0; FRAME],
            buf: vec![0.0; BUF],
            prefix: vec![0.0; BUF + 1],
            corr_time: vec![0.0; CORR_FFT],
            corr_a: vec![Complex32::default(); CORR_FFT / 2 + 1],
            corr_b: vec![Complex32::default(); CORR_FFT / 2 + 1],
            ncc: vec![0.0; MAX_LAG + 2],
            scratch: vec![Complex32::default(); scratch_len],
            last: Self::idle(),
        }
    }

    fn idle() -> PitchEstimate {
        PitchEstimate {
            period_seconds: MAX_LAG as f32 / 16_000.0,
            correlation: 0.0,
        }
    }

    /// Clears all history. Does not allocate.
    pub fn reset(&mut self) {
        self.ola16.fill(0.0);
        self.buf.fill(0.0);
        self.last = Self::idle();
    }

    /// The most recent estimate.
    pub fn last(&self) -> PitchEstimate {
        self.last
    }

    /// Takes the next frame's spectrum (FFT of the windowed frame divided by the window length, 50 Hz bins),
    /// updates the 16 kHz stream and returns the pitch estimate. Does not allocate.
    pub fn analyze(&mut self, spectrum: &[Complex32]) -> PitchEstimate {
        // 1. The 16 kHz view of this frame, overlap-added into the stream.
        // The spectrum is whitened first (each bin divided by a power of the mean power of its ±WHITEN_BINS neighbourhood, and above 4 kHz dropped), so the
        // search sees the harmonic comb rather than the formants, which otherwise correlate at their own period.
        let keep = spectrum.len().min(self.spec16.len());
        self.spec16[..keep].copy_from_slice(&spectrum[..keep]);
        self.spec16[keep..].fill(Complex32::default());
        for (e, s) in self.envelope.iter_mut().zip(&self.spec16) {
            *e = s.norm_sqr();
        }
        let mut sum: f32 = self.envelope[..=WHITEN_BINS].iter().sum();
        let total: f32 = self.envelope.iter().sum();
        let eps = 1e-3 * total / self.envelope.len() as f32 + 1e-30;
        let len = self.envelope.len();
        for k in 0..len {
            let count = (k + WHITEN_BINS + 1).min(len) - k.saturating_sub(WHITEN_BINS);
            let gain = if k <= PITCH_MAX_BIN {
                (sum / count as f32 + eps).powf(-WHITEN_POWER)
            } else {
                0.0
            };
            self.spec16[k] *= gain;
            if k + WHITEN_BINS + 1 < len {
                sum += self.envelope[k + WHITEN_BINS + 1];
            }
            if k >= WHITEN_BINS {
                sum -= self.envelope[k - WHITEN_BINS];
            }
        }
        self.spec16[0].im = 0.0;
        self.spec16[FRAME / 2].im = 0.0;
        let _ =
            self.inv16
                .process_with_scratch(&mut self.spec16, &mut self.frame16, &mut self.scratch);
        for ((o, f), w) in self.ola16.iter_mut().zip(&self.frame16).zip(&self.win16) {
            *o += f * w;
        }
        self.buf.copy_within(HOP.., 0);
        self.buf[BUF - HOP..].copy_from_slice(&self.ola16[..HOP]);
        self.ola16.copy_within(HOP.., 0);
        self.ola16[HOP..].fill(0.0);

        // 2. Cross-correlation of the newest CORR samples with the whole history.
        self.corr_time.fill(0.0);
        self.corr_time[..BUF].copy_from_slice(&self.buf);
        let _ = self.fwd_corr.process_with_scratch(
            &mut self.corr_time,
            &mut self.corr_a,
            &mut self.scratch,
        );
        self.corr_time.fill(0.0);
        self.corr_time[..CORR].copy_from_slice(&self.buf[BUF - CORR..]);
        let _ = self.fwd_corr.process_with_scratch(
            &mut self.corr_time,
            &mut self.corr_b,
            &mut self.scratch,
        );
        for (a, b) in self.corr_a.iter_mut().zip(&self.corr_b) {
            *a *= b.conj();
        }
        self.corr_a[0].im = 0.0;
        self.corr_a[CORR_FFT / 2].im = 0.0;
        let _ = self.inv_corr.process_with_scratch(
            &mut self.corr_a,
            &mut self.corr_time,
            &mut self.scratch,
        );

        self.prefix[0] = 0.0;
        for i in 0..BUF {
            self.prefix[i + 1] = self.prefix[i] + (self.buf[i] as f64) * (self.buf[i] as f64);
        }
        let e_win = self.prefix[BUF] - self.prefix[BUF - CORR];
        if total < SILENT_ENERGY || e_win < 1e-20 {
            self.last = PitchEstimate {
                period_seconds: self.last.period_seconds,
                correlation: 0.0,
            };
            return self.last;
        }
        let scale = 1.0 / CORR_FFT as f64;
        for lag in MIN_LAG - 1..=MAX_LAG.min(BUF - CORR) {
            let k = BUF - CORR - lag;
            let e_lag = self.prefix[k + CORR] - self.prefix[k];
            let c = self.corr_time[k] as f64 * scale;
            // 2c/(E0+Eτ) rather than c/sqrt(E0·Eτ): equal for steady periodic signals, but bounded where one
            // window is nearly silent (onsets, word ends), where the geometric form reads noise as periodic.
            self.ncc[lag] = (2.0 * c / (e_win + e_lag + 1e-24)) as f32;
        }
        self.ncc[MAX_LAG + 1] = self.ncc[MAX_LAG];

        // 3. Best lag, preferring a sub-multiple that correlates nearly as well (avoids period doubling).
        let mut best = MIN_LAG;
        for lag in MIN_LAG..=MAX_LAG {
            if self.ncc[lag] > self.ncc[best] {
                best = lag;
            }
        }
        let best_c = self.ncc[best];
        for div in (2..=best / MIN_LAG).rev() {
            let centre = (best as f32 / div as f32).round() as usize;
            let (lo, hi) = (
                centre.saturating_sub(1).max(MIN_LAG),
                (centre + 1).min(MAX_LAG),
            );
            let cand = (lo..=hi)
                .max_by(|&a, &b| self.ncc[a].total_cmp(&self.ncc[b]))
                .unwrap_or(centre);
            if self.ncc[cand] >= SUBMULTIPLE_RATIO * best_c && self.is_local_max(cand) {
                best = cand;
                break;
            }
        }

        // 4. Parabolic refinement.
        let (a, b, c) = (self.ncc[best - 1], self.ncc[best], self.ncc[best + 1]);
        let den = a - 2.0 * b + c;
        let delta = if den < -1e-9 {
            (0.5 * (a - c) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        self.last = PitchEstimate {
            period_seconds: (best as f32 + delta) / self.stream_rate,
            correlation: b.clamp(-1.0, 1.0),
        };
        self.last
    }

    fn is_local_max(&self, lag: usize) -> bool {
        self.ncc[lag] >= self.ncc[lag - 1] && self.ncc[lag] >= self.ncc[lag + 1]
    }
}
