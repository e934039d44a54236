//! The 22-band layout (RNNoise v1) and the band operations: energies, correlations, gain interpolation.
//!
//! Bands are triangles centred on [`BAND_EDGES_HZ`]: band `i` rises from edge `i-1` to edge `i` and falls to edge
//! `i+1`, so neighbouring bands overlap and their weights sum to one on every bin below 20 kHz. Because bins are
//! 50 Hz apart at every rate (see [`crate::framing`]), the edges land on the same bins at every rate.
//!
//! Bands whose centre lies above the Nyquist frequency of the host rate are *absent*: their energy reads as zero,
//! exactly as a band-limited recording looks at a higher rate, so a model sees one consistent picture.

use crate::FrameLayout;
use realfft::num_complex::Complex32;

/// Number of bands.
pub const NB_BANDS: usize = 22;

/// Band centres (triangle peaks), Hz.
pub const BAND_EDGES_HZ: [f32; NB_BANDS] = [
    0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0, 1400.0, 1600.0, 2000.0, 2400.0, 2800.0,
    3200.0, 4000.0, 4800.0, 5600.0, 6800.0, 8000.0, 9600.0, 12000.0, 15600.0, 20000.0,
];

/// Index of the first band centred at 8 kHz or above: bands `FIRST_HIGH_BAND..` hold what 16 kHz recordings
/// lack. The neural mask shapes them apart ([`crate::mask`]) and the trainer can weight them.
pub const FIRST_HIGH_BAND: usize = 17;

/// The band layout for one frame geometry. Plain data; built once per sample rate.
#[derive(Debug, Clone)]
pub struct BandLayout {
    /// Bin index of each band centre, clamped to the last bin.
    edges: [usize; NB_BANDS],
    /// Number of bands present (centre at or below Nyquist). Bands `present..` are absent.
    present: usize,
    /// Number of FFT bins.
    bins: usize,
}

impl BandLayout {
    /// Builds the layout for `layout`. Does not allocate.
    pub fn new(layout: &FrameLayout) -> Self {
        let last = layout.bins - 1;
        let mut edges = [0usize; NB_BANDS];
        let mut present = 0;
        for (i, hz) in BAND_EDGES_HZ.iter().enumerate() {
            let bin = (hz / layout.bin_hz).round() as usize;
            if bin <= last {
                present = i + 1;
            }
            edges[i] = bin.min(last);
        }
        BandLayout {
            edges,
            present,
            bins: layout.bins,
        }
    }

    /// Number of bands present at this rate (22 from 40 kHz up; 18 at 16 kHz).
    pub fn present(&self) -> usize {
        self.present
    }

    /// Bin index of each band centre (clamped to the last bin).
    pub fn edges(&self) -> &[usize; NB_BANDS] {
        &self.edges
    }

    /// Calls `f(band_lo, band_hi, weight_hi, bin)` for every bin under a pair of present bands, where the bin
    /// belongs to band `band_lo` with weight `1 - weight_hi` and to `band_hi` with weight `weight_hi`.
    #[inline]
    fn for_each_bin(&self, mut f: impl FnMut(usize, usize, f32, usize)) {
        for i in 0..self.present.saturating_sub(1) {
            let (lo, hi) = (self.edges[i], self.edges[i + 1]);
            let width = (hi - lo).max(1) as f32;
            for k in lo..hi {
                f(i, i + 1, (k - lo) as f32 / width, k);
            }
        }
    }

    /// Triangular band energies of `spec` (sum of |X|² weighted by the triangles) into `out`; absent bands get 0.
    /// The first and last band are half triangles and are doubled, as in RNNoise. Does not allocate.
    pub fn energy(&self, spec: &[Complex32], out: &mut [f32; NB_BANDS]) {
        self.correlation(spec, spec, out);
    }

    /// Triangular band cross-correlation `Re(a · conj(b))` into `out`; absent bands get 0. Does not allocate.
    pub fn correlation(&self, a: &[Complex32], b: &[Complex32], out: &mut [f32; NB_BANDS]) {
        *out = [0.0; NB_BANDS];
        self.for_each_bin(|lo, hi, frac, k| {
            let p = a[k].re * b[k].re + a[k].im * b[k].im;
            out[lo] += (1.0 - frac) * p;
            out[hi] += frac * p;
        });
        out[0] *= 2.0;
        if self.present == NB_BANDS {
            out[NB_BANDS - 1] *= 2.0;
        }
    }

    /// Interpolates per-band values to per-bin values in `out` (length = bins). Bins above the last present band
    /// centre hold that band's value. Does not allocate.
    pub fn interpolate(&self, band: &[f32; NB_BANDS], out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.bins);
        if self.present == 0 {
            out.fill(1.0);
            return;
        }
        self.for_each_bin(|lo, hi, frac, k| {
            out[k] = (1.0 - frac) * band[lo] + frac * band[hi];
        });
        let last = self.present - 1;
        let start = if self.present >= 2 {
            self.edges[last]
        } else {
            0
        };
        out[start..].fill(band[last]);
    }

    /// Reduces per-bin gains to per-band effective gains, weighting each bin by `power` (|X|²):
    /// `g_band = sqrt(Σ w·g²·P / Σ w·P)`. Absent bands and bands with no energy read 1. Does not allocate.
    pub fn reduce_gains(&self, gains: &[f32], power: &[f32], out: &mut [f32; NB_BANDS]) {
        let mut num = [0.0f32; NB_BANDS];
        let mut den = [0.0f32; NB_BANDS];
        self.for_each_bin(|lo, hi, frac, k| {
            let p = power[k] + 1e-20;
            let gp = gains[k] * gains[k] * p;
            num[lo] += (1.0 - frac) * gp;
            den[lo] += (1.0 - frac) * p;
            num[hi] += frac * gp;
            den[hi] += frac * p;
        });
        for i in 0..NB_BANDS {
            out[i] = if den[i] > 0.0 {
                (num[i] / den[i]).sqrt().min(1.0)
            } else {
                1.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangles_sum_to_one() {
        for rate in [16_000.0, 44_100.0, 48_000.0, 96_000.0] {
            let l = FrameLayout::new(rate).unwrap();
            let b = BandLayout::new(&l);
            let mut ones = [1.0f32; NB_BANDS];
            ones[3] = 1.0;
            let mut bins = vec![0.0; l.bins];
            b.interpolate(&ones, &mut bins);
            assert!(bins.iter().all(|&g| (g - 1.0).abs() < 1e-6));
        }
    }

    #[test]
    fn present_bands_follow_nyquist() {
        let count = |r| BandLayout::new(&FrameLayout::new(r).unwrap()).present();
        assert_eq!(count(48_000.0), 22);
        assert_eq!(count(44_100.0), 22);
        assert_eq!(count(32_000.0), 21);
        assert_eq!(count(16_000.0), 18);
        assert_eq!(count(8_000.0), 14);
    }
}
