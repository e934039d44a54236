//! The pitch comb filter (RNNoise's "pitch filter").
//!
//! Band gains cannot remove noise *between* the harmonics of a voice inside one band. The comb filter adds the
//! spectrum of the signal delayed by one pitch period, `X + r·P`, which reinforces the harmonics and cancels what
//! lies between them, then restores each band's energy so that the band gains still set the level. The amount
//! `r` per band grows with how much noise the band gain says there is and with how periodic the band is.

use crate::bands::{BandLayout, NB_BANDS};

/// Scale of the per-band amounts in the engine (linear, 0..=1). Measured on the tuning half (`docs/quality.md`,
/// `docs/model.md`): with the model of 2026-12-02, 0.5 left PESQ-WB unchanged against the full filter (1.86) and
/// kept clean speech at 24.0 against 20.8 dB SI-SDR; with the model shipped 2026-12-04, 0.25 against 0.5 costs
/// 0.015 PESQ-WB [0.010, 0.020], leaves STOI unchanged and keeps clean speech at 26.8 against 24.4 dB SI-SDR
/// (+0.3 dB SI-SDR gain on noisy speech), so 0.25 is the default: the clean-speech target is 25 dB.
pub const COMB_STRENGTH: f32 = 0.25;

use crate::features::ENERGY_FLOOR;
use realfft::num_complex::Complex32;

/// Per-band comb amount before the per-channel energy ratio: from the normalised pitch correlation `corr` and the
/// band gain `gain` (both 0..=1), scaled by `amount` (0 = off, 1 = full). Does not allocate.
pub fn band_amounts(
    corr: &[f32; NB_BANDS],
    gain: &[f32; NB_BANDS],
    amount: f32,
    out: &mut [f32; NB_BANDS],
) {
    for i in 0..NB_BANDS {
        let (c, g) = (corr[i].max(0.0), gain[i]);
        let r = if c > g {
            1.0
        } else {
            c * c * (1.0 - g * g) / (0.001 + g * g * (1.0 - c * c))
        };
        out[i] = r.clamp(0.0, 1.0).sqrt() * amount;
    }
}

/// Applies the comb filter to one channel in place. `amounts` come from [`band_amounts`]; `scratch_*` are
/// per-bin buffers of the spectrum's length. Does not allocate.
pub fn apply(
    bands: &BandLayout,
    amounts: &[f32; NB_BANDS],
    x: &mut [Complex32],
    p: &[Complex32],
    scratch_bins: &mut [f32],
) {
    let mut ex = [0.0; NB_BANDS];
    let mut ep = [0.0; NB_BANDS];
    bands.energy(x, &mut ex);
    bands.energy(p, &mut ep);
    let mut r = [0.0; NB_BANDS];
    for i in 0..NB_BANDS {
        r[i] = amounts[i] * (ex[i] / (ep[i] + ENERGY_FLOOR)).sqrt().min(10.0);
    }
    bands.interpolate(&r, scratch_bins);
    for ((xk, pk), rk) in x.iter_mut().zip(p).zip(scratch_bins.iter()) {
        *xk += *pk * *rk;
    }
    let mut ex_new = [0.0; NB_BANDS];
    bands.energy(x, &mut ex_new);
    let mut norm = [1.0; NB_BANDS];
    for i in 0..NB_BANDS {
        norm[i] = (ex[i] / (ex_new[i] + ENERGY_FLOOR)).sqrt().min(2.0);
    }
    bands.interpolate(&norm, scratch_bins);
    for (xk, nk) in x.iter_mut().zip(scratch_bins.iter()) {
        *xk *= *nk;
    }
}
