//! The classic mask source: an MCRA noise tracker with decision-directed MMSE log-spectral-amplitude gains.
//!
//! Per bin, per 10 ms frame:
//! 1. The power spectrum is smoothed over three bins and over time, and its minimum is tracked over a window of
//!    [`MIN_WINDOW_FRAMES`] frames that slides in 250 ms steps (minima-controlled recursive averaging, Cohen &
//!    Berdugo 2002, with the sub-windows of Martin 2001). A rise of the noise floor, or noise that starts after
//!    silence, is therefore recognised 1 to 1.25 s later, not up to two windows later.
//! 2. Where the smoothed power is well above its minimum, speech is probably present and the noise estimate is
//!    frozen; elsewhere the noise estimate follows the power. It therefore follows noise that changes, while
//!    short loud events (a word, a burst) do not leak into it.
//! 3. The a priori SNR comes from the decision-directed rule (Ephraim & Malah), refined by a second step that
//!    removes its one-frame lag at speech onsets, and the gain from the MMSE log-spectral-amplitude estimator,
//!    which leaves much less musical noise than a plain Wiener gain.
//!
//! This is the plugin's "Classic" mode and the baseline the neural model must beat.

/// Time smoothing of the power spectrum (per frame).
const ALPHA_S: f32 = 0.8;
/// Smoothed-power to minimum ratio above which a bin counts as speech.
const DELTA: f32 = 5.0;
/// Time smoothing of the speech-presence probability.
const ALPHA_P: f32 = 0.2;
/// Noise-estimate smoothing where no speech is present.
const ALPHA_D: f32 = 0.95;
/// Decision-directed weight of the previous frame's clean estimate.
const ALPHA_DD: f32 = 0.98;
/// Lowest a priori SNR (−25 dB), linear.
const XI_MIN: f32 = 0.003_162_3;
/// Largest rise of the noise estimate per frame above the larger of itself and the minimum-statistics floor
/// (power ratio, +1 dB, scaled down by the speech presence): a click or burst that arrives before the presence
/// detector reacts cannot inflate the estimate, while a real change of noise is followed in tenths of a second.
const MAX_NOISE_RISE: f32 = 1.259;
/// Length of one minimum-tracking window, frames (1 s): the minimum of the smoothed power over the last
/// window is the noise floor the speech detector compares against.
pub const MIN_WINDOW_FRAMES: u32 = SUBWINDOWS as u32 * SUBWINDOW_FRAMES;
/// The window is kept as this many sub-windows, so that it slides in steps of a sub-window (Martin 2001).
const SUBWINDOWS: usize = 4;
/// Length of one sub-window, frames (250 ms).
const SUBWINDOW_FRAMES: u32 = 25;
/// Lowest noise power kept (linear): keeps the recursions out of denormals.
const POWER_FLOOR: f32 = 1e-20;
/// Per-bin state of the classic suppressor. Allocates at construction only.
pub struct ClassicSuppressor {
    smooth: Vec<f32>,
    /// Minimum of `smooth` over the sub-windows in `history` (not the current one).
    window_min: Vec<f32>,
    /// Minimum of `smooth` in the current sub-window.
    sub_min: Vec<f32>,
    /// Minima of the last [`SUBWINDOWS`] sub-windows, `SUBWINDOWS` per bin.
    history: Vec<f32>,
    presence: Vec<f32>,
    noise: Vec<f32>,
    prev_clean: Vec<f32>,
    /// False until the first frame after construction or a reset.
    started: bool,
    /// Frames into the current sub-window.
    frames: u32,
    /// Slot of `history` the current sub-window's minimum goes to.
    slot: usize,
    /// Tabulated MMSE-LSA gain.
    lsa: LsaTable,
}

impl ClassicSuppressor {
    /// State for spectra of `bins` bins. Allocates.
    pub fn new(bins: usize) -> Self {
        ClassicSuppressor {
            smooth: vec![0.0; bins],
            window_min: vec![0.0; bins],
            sub_min: vec![0.0; bins],
            history: vec![0.0; bins * SUBWINDOWS],
            presence: vec![0.0; bins],
            noise: vec![0.0; bins],
            prev_clean: vec![0.0; bins],
            started: false,
            frames: 0,
            slot: 0,
            lsa: LsaTable::new(),
        }
    }

    /// Forgets everything learnt about the noise. Does not allocate.
    pub fn reset(&mut self) {
        self.started = false;
        self.frames = 0;
        self.slot = 0;
        self.presence.fill(0.0);
        self.prev_clean.fill(0.0);
    }

    /// The current noise power estimate per bin (linear |X|² units).
    pub fn noise(&self) -> &[f32] {
        &self.noise
    }

    /// Takes one frame's power spectrum `power` (|X|² per bin) and writes gains in 0..=1 to `gains`.
    /// Does not allocate.
    pub fn process(&mut self, power: &[f32], gains: &mut [f32]) {
        let n = power.len();
        let first = !self.started;
        self.started = true;
        self.frames += 1;
        let end_of_subwindow = self.frames >= SUBWINDOW_FRAMES;
        if end_of_subwindow {
            self.frames = 0;
        }
        for k in 0..n {
            let lo = power[k.saturating_sub(1)];
            let hi = power[(k + 1).min(n - 1)];
            let sf = 0.25 * lo + 0.5 * power[k] + 0.25 * hi;
            if first {
                let p = sf.max(POWER_FLOOR);
                self.smooth[k] = p;
                self.window_min[k] = p;
                self.sub_min[k] = p;
                self.history[k * SUBWINDOWS..(k + 1) * SUBWINDOWS].fill(p);
                self.noise[k] = p;
                self.presence[k] = 0.0;
                self.prev_clean[k] = 0.0;
            }
            let s = ALPHA_S * self.smooth[k] + (1.0 - ALPHA_S) * sf;
            self.smooth[k] = s;
            self.sub_min[k] = self.sub_min[k].min(s);
            let s_min = self.window_min[k].min(self.sub_min[k]);
            let speech = if s > DELTA * s_min { 1.0 } else { 0.0 };
            let p = ALPHA_P * self.presence[k] + (1.0 - ALPHA_P) * speech;
            self.presence[k] = p;
            let a = ALPHA_D + (1.0 - ALPHA_D) * p;
            // The rise limit counts from the minimum-statistics floor when the estimate sits below it (after
            // silence, or at the start), so that the estimate reaches a new noise at once instead of climbing
            // 1 dB per frame from the silence's level.
            let reference = self.noise[k].max(s_min);
            let noise = (a * self.noise[k] + (1.0 - a) * power[k])
                .min(reference * (1.0 + (MAX_NOISE_RISE - 1.0) * (1.0 - p)))
                .max(POWER_FLOOR);
            self.noise[k] = noise;

            let gamma = (power[k] / noise).min(1e6);
            let xi = (ALPHA_DD * self.prev_clean[k] / noise
                + (1.0 - ALPHA_DD) * (gamma - 1.0).max(0.0))
            .max(XI_MIN);
            // Two-step refinement (Plapous et al. 2006): the decision-directed estimate lags speech onsets by a
            // frame; re-estimating the a priori SNR from this frame's own first gain removes that lag.
            let g_first = self.lsa.gain(xi, gamma);
            let g = self
                .lsa
                .gain((g_first * g_first * gamma).max(XI_MIN), gamma);
            gains[k] = g;
            self.prev_clean[k] = g * g * power[k];
            self.close_subwindow(k, end_of_subwindow);
        }
        if end_of_subwindow {
            self.slot = (self.slot + 1) % SUBWINDOWS;
        }
    }

    /// At the end of a sub-window, stores bin `k`'s sub-window minimum and slides its window by one sub-window.
    fn close_subwindow(&mut self, k: usize, end_of_subwindow: bool) {
        if !end_of_subwindow {
            return;
        }
        let ring = &mut self.history[k * SUBWINDOWS..(k + 1) * SUBWINDOWS];
        ring[self.slot] = self.sub_min[k];
        self.window_min[k] = ring.iter().copied().fold(f32::INFINITY, f32::min);
        self.sub_min[k] = self.smooth[k];
    }
}

/// MMSE log-spectral-amplitude gain for a priori SNR `xi` and a posteriori SNR `gamma` (both linear),
/// clamped to 0..=1. Does not allocate.
pub fn lsa_gain(xi: f32, gamma: f32) -> f32 {
    let ratio = xi / (1.0 + xi);
    let v = (ratio * gamma).max(LSA_V_MIN);
    (ratio * (0.5 * exp_integral_e1(v)).exp()).clamp(0.0, 1.0)
}

/// First octave of `v = xi / (1 + xi) * gamma` in the table: 2^-20, about 1e-6.
const LSA_TABLE_MIN_OCTAVE: i32 = -20;
/// Smallest `v` used by [`lsa_gain`] and [`LsaTable`] (2^-20): below it the gain is taken at this value.
const LSA_V_MIN: f32 = 9.536_743e-7;
/// Largest octave of `v` the table covers: from 2^8 up, `exp(E1(v) / 2)` is 1 to within 1e-100.
const LSA_TABLE_MAX_OCTAVE: i32 = 8;
/// Table steps per octave of `v` (the top mantissa bits of `v` index within the octave).
const LSA_TABLE_STEP_BITS: u32 = 5;

/// [`lsa_gain`] without transcendental functions: `exp(E1(v) / 2)` tabulated over `v` from 2^-20 to 2^8 in 32
/// steps per octave and interpolated linearly, indexed straight from the bits of `v`. Within 2e-4 (relative) of
/// the exact gain; the classic suppressor runs it twice per bin per frame. Allocates at construction only.
pub struct LsaTable {
    values: Vec<f32>,
}

impl Default for LsaTable {
    fn default() -> Self {
        Self::new()
    }
}

impl LsaTable {
    /// Builds the table (897 values). Allocates.
    pub fn new() -> Self {
        let steps = 1usize << LSA_TABLE_STEP_BITS;
        let octaves = (LSA_TABLE_MAX_OCTAVE - LSA_TABLE_MIN_OCTAVE) as usize;
        let values = (0..=octaves * steps)
            .map(|i| {
                let octave = LSA_TABLE_MIN_OCTAVE + (i / steps) as i32;
                let v = 2f64.powi(octave) * (1.0 + (i % steps) as f64 / steps as f64);
                (0.5 * f64::from(exp_integral_e1(v as f32))).exp() as f32
            })
            .collect();
        LsaTable { values }
    }

    /// The MMSE-LSA gain for a priori SNR `xi` and a posteriori SNR `gamma` (linear), clamped to 0..=1, as
    /// [`lsa_gain`]. Does not allocate.
    #[inline]
    pub fn gain(&self, xi: f32, gamma: f32) -> f32 {
        let ratio = xi / (1.0 + xi);
        let v = ratio * gamma;
        let f = if v.is_nan() || v <= LSA_V_MIN {
            // Below the table (or NaN): the value at its start, as lsa_gain's clamp of v.
            self.values[0]
        } else if v >= 2f32.powi(LSA_TABLE_MAX_OCTAVE) {
            1.0
        } else {
            let bits = v.to_bits();
            let octave = ((bits >> 23) as i32 - 127 - LSA_TABLE_MIN_OCTAVE) as usize;
            let shift = 23 - LSA_TABLE_STEP_BITS;
            let index = (octave << LSA_TABLE_STEP_BITS) + ((bits & 0x7f_ffff) >> shift) as usize;
            let frac = (bits & ((1 << shift) - 1)) as f32 / (1u32 << shift) as f32;
            let (a, b) = (self.values[index], self.values[index + 1]);
            a + (b - a) * frac
        };
        (ratio * f).clamp(0.0, 1.0)
    }
}

/// The exponential integral E1(x) for x > 0 (Abramowitz & Stegun 5.1.53 and 5.1.56; error below 1e-5 relative
/// to the function's scale). Does not allocate.
pub fn exp_integral_e1(x: f32) -> f32 {
    if x <= 1.0 {
        let x = x.max(1e-30);
        -x.ln() - 0.577_215_7
            + x * (0.999_991_93
                + x * (-0.249_910_55 + x * (0.055_199_68 + x * (-0.009_760_04 + x * 0.001_078_57))))
    } else {
        let num = x * x + 2.334_733 * x + 0.250_621;
        let den = x * x + 3.330_657 * x + 1.681_534;
        num / den * (-x).exp() / x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e1_matches_known_values() {
        // Reference values of E1 from tables.
        for (x, e) in [
            (0.01, 4.037_93),
            (0.1, 1.822_92),
            (0.5, 0.559_774),
            (1.0, 0.219_384),
            (2.0, 0.048_900_5),
            (5.0, 0.001_148_3),
        ] {
            let got = exp_integral_e1(x);
            assert!((got - e).abs() / e < 2e-4, "E1({x}) = {got}, expected {e}");
        }
    }

    #[test]
    fn the_lsa_table_matches_the_exact_gain() {
        let table = LsaTable::new();
        let mut worst = 0.0f32;
        for i in 0..=400 {
            let xi = 10f32.powf(-3.0 + i as f32 * 0.0125); // -30..+20 dB
            for j in 0..=400 {
                let gamma = 10f32.powf(-3.0 + j as f32 * 0.015); // -30..+30 dB
                let (exact, tab) = (lsa_gain(xi, gamma), table.gain(xi, gamma));
                worst = worst.max((tab - exact).abs() / exact.max(1e-6));
            }
        }
        assert!(worst < 2e-4, "worst relative error {worst}");
        assert!(table.gain(1e6, 1e6) > 0.9999);
        assert!(table.gain(0.0, 0.0) == 0.0);
    }

    #[test]
    fn lsa_gain_is_monotonic_in_snr() {
        let mut last = 0.0;
        for db in -30..30 {
            let xi = 10f32.powf(db as f32 / 10.0);
            let g = lsa_gain(xi, xi + 1.0);
            assert!(g >= last - 1e-6, "{db} dB: {g} < {last}");
            last = g;
        }
        assert!(last > 0.95);
    }
}
