//! The 42 features a model reads for each 10 ms frame (RNNoise v1 layout).
//!
//! | index | feature |
//! |---|---|
//! | 0..6 | sum of the first 6 cepstral coefficients over the last 3 frames |
//! | 6..22 | cepstral coefficients 6..22 (DCT of the log band energies) |
//! | 22..28 | first temporal difference of coefficients 0..6 (frame t minus frame t-2) |
//! | 28..34 | second temporal difference of coefficients 0..6 |
//! | 34..40 | first 6 DCT coefficients of the per-band pitch correlation |
//! | 40 | pitch period (0.01 × (period in 48 kHz samples − 300)) |
//! | 41 | spectral non-stationarity (mean cepstral distance to the nearest of the last 8 frames) |
//!
//! Energies come from spectra normalised by the window length (see [`crate::engine`]), so a signal has the
//! same features at every sample rate. Log energies are `log10(E + 1e-10) + 6`, which centres ordinary speech
//! levels near zero.

use crate::bands::NB_BANDS;

/// Number of features per frame.
pub const NB_FEATURES: usize = 42;
/// Number of cepstral coefficients that get temporal derivatives.
pub const NB_DELTA_CEPS: usize = 6;
/// Frames of cepstral history for the non-stationarity measure.
const CEPS_MEM: usize = 8;
/// Energy floor added before the logarithm (linear, per band).
pub const ENERGY_FLOOR: f32 = 1e-10;
/// Offset added to log10 energies.
const LOG_OFFSET: f32 = 6.0;
/// A frame whose total band energy is below this (linear) is silent (about −87 dBFS white noise).
pub const SILENCE_ENERGY: f32 = 1e-9;

/// Per-band statistics of one frame, from the frame spectrum `X` and the pitch-delayed spectrum `P`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BandStats {
    /// Band energies of `X` (linear).
    pub ex: [f32; NB_BANDS],
    /// Band energies of `P` (linear).
    pub ep: [f32; NB_BANDS],
    /// Normalised band correlation `Re(X·P*) / sqrt(Ex·Ep)`, -1..=1.
    pub corr: [f32; NB_BANDS],
}

impl BandStats {
    /// Fills `corr` from a raw correlation and the energies already in `ex` and `ep`. Does not allocate.
    pub fn normalise_correlation(&mut self, raw: &[f32; NB_BANDS]) {
        for i in 0..NB_BANDS {
            self.corr[i] = (raw[i]
                / (self.ex[i] * self.ep[i] + ENERGY_FLOOR * ENERGY_FLOOR).sqrt())
            .clamp(-1.0, 1.0);
        }
    }
}

/// Streaming feature extractor (it keeps cepstral history). No allocation anywhere.
#[derive(Clone)]
pub struct FeatureExtractor {
    dct: [[f32; NB_BANDS]; NB_BANDS],
    ceps_mem: [[f32; NB_BANDS]; CEPS_MEM],
    mem_pos: usize,
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureExtractor {
    /// A new extractor with empty history. Does not allocate.
    pub fn new() -> Self {
        let mut dct = [[0.0f32; NB_BANDS]; NB_BANDS];
        for (i, row) in dct.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let scale = if i == 0 { 0.5f64.sqrt() } else { 1.0 };
                *v = (scale
                    * (2.0 / NB_BANDS as f64).sqrt()
                    * ((j as f64 + 0.5) * i as f64 * std::f64::consts::PI / NB_BANDS as f64).cos())
                    as f32;
            }
        }
        FeatureExtractor {
            dct,
            ceps_mem: [[0.0; NB_BANDS]; CEPS_MEM],
            mem_pos: 0,
        }
    }

    /// Clears the history. Does not allocate.
    pub fn reset(&mut self) {
        self.ceps_mem = [[0.0; NB_BANDS]; CEPS_MEM];
        self.mem_pos = 0;
    }

    /// Orthonormal DCT-II of 22 values. Does not allocate.
    pub fn dct(&self, input: &[f32; NB_BANDS], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(&self.dct) {
            *o = row.iter().zip(input).map(|(a, b)| a * b).sum();
        }
    }

    /// Computes the features of one frame into `out` and returns `true` if the frame is silent (total energy
    /// below [`SILENCE_ENERGY`]). `pitch_period_seconds` comes from [`crate::pitch::PitchTracker`].
    /// Does not allocate.
    pub fn compute(
        &mut self,
        stats: &BandStats,
        pitch_period_seconds: f32,
        out: &mut [f32; NB_FEATURES],
    ) -> bool {
        // Log band energies with RNNoise's floor-following, which keeps empty bands from dominating the cepstrum.
        let mut ly = [0.0f32; NB_BANDS];
        let floor = ENERGY_FLOOR.log10() + LOG_OFFSET;
        let (mut log_max, mut follow) = (floor, floor);
        let mut total = 0.0;
        for i in 0..NB_BANDS {
            let l = (stats.ex[i] + ENERGY_FLOOR).log10() + LOG_OFFSET;
            ly[i] = l.max(log_max - 8.0).max(follow - 1.5);
            log_max = log_max.max(ly[i]);
            follow = (follow - 1.5).max(ly[i]);
            total += stats.ex[i];
        }

        self.mem_pos = (self.mem_pos + 1) % CEPS_MEM;
        let mut ceps = [0.0f32; NB_BANDS];
        self.dct(&ly, &mut ceps);
        self.ceps_mem[self.mem_pos] = ceps;
        let c1 = &self.ceps_mem[(self.mem_pos + CEPS_MEM - 1) % CEPS_MEM];
        let c2 = &self.ceps_mem[(self.mem_pos + CEPS_MEM - 2) % CEPS_MEM];

        out[..NB_BANDS].copy_from_slice(&ceps);
        for i in 0..NB_DELTA_CEPS {
            out[i] = ceps[i] + c1[i] + c2[i];
            out[NB_BANDS + i] = ceps[i] - c2[i];
            out[NB_BANDS + NB_DELTA_CEPS + i] = ceps[i] - 2.0 * c1[i] + c2[i];
        }

        let mut corr_dct = [0.0f32; NB_BANDS];
        self.dct(&stats.corr, &mut corr_dct);
        let base = NB_BANDS + 2 * NB_DELTA_CEPS;
        out[base..base + NB_DELTA_CEPS].copy_from_slice(&corr_dct[..NB_DELTA_CEPS]);
        out[base] -= 1.3;
        out[base + 1] -= 0.9;
        out[base + NB_DELTA_CEPS] = 0.01 * (pitch_period_seconds * 48_000.0 - 300.0);

        let mut variability = 0.0;
        for i in 0..CEPS_MEM {
            let mut nearest = f32::INFINITY;
            for j in 0..CEPS_MEM {
                if i != j {
                    let d: f32 = self.ceps_mem[i]
                        .iter()
                        .zip(&self.ceps_mem[j])
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    nearest = nearest.min(d);
                }
            }
            variability += nearest;
        }
        out[NB_FEATURES - 1] = variability / CEPS_MEM as f32 - 2.1;
        total < SILENCE_ENERGY
    }
}
