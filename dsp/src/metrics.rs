//! Quality and level measures shared by tests, benchmarks, the trainer and the evaluation command, so that all of
//! them measure (for example) an SNR the same way. None of them allocate.

/// Root-mean-square of `x` (linear; 0 for an empty slice).
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

/// RMS level of `x` in dB relative to full scale (−inf for silence).
pub fn rms_dbfs(x: &[f32]) -> f64 {
    20.0 * rms(x).log10()
}

/// Scale-invariant signal-to-distortion ratio (dB) of `estimate` against `reference`, over their common length.
/// Both must already be time-aligned.
pub fn si_sdr(reference: &[f32], estimate: &[f32]) -> f64 {
    let n = reference.len().min(estimate.len());
    let (r, e) = (&reference[..n], &estimate[..n]);
    let dot: f64 = r.iter().zip(e).map(|(&a, &b)| a as f64 * b as f64).sum();
    let rr: f64 = r.iter().map(|&a| a as f64 * a as f64).sum();
    if rr <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let alpha = dot / rr;
    let (mut target, mut noise) = (0.0f64, 0.0f64);
    for (&a, &b) in r.iter().zip(e) {
        let t = alpha * a as f64;
        target += t * t;
        noise += (b as f64 - t) * (b as f64 - t);
    }
    10.0 * (target / noise.max(1e-30)).log10()
}

/// Active level of `x` at `rate` Hz, linear RMS: the RMS over the 10 ms frames whose energy lies within 30 dB of
/// the loudest frame, so that pauses do not lower a speech level. 0 for silence or an empty slice. The trainer's
/// and the evaluation's SNRs are both set from this.
pub fn active_rms(x: &[f32], rate: u32) -> f64 {
    let frame = (rate as usize / 100).max(1);
    let energy = |c: &[f32]| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / c.len() as f64;
    let loudest = x.chunks(frame).map(energy).fold(0.0f64, f64::max);
    if loudest <= 0.0 {
        return 0.0;
    }
    let (sum, n) = x
        .chunks(frame)
        .map(energy)
        .filter(|&e| e >= loudest * 1e-3)
        .fold((0.0, 0usize), |(s, n), e| (s + e, n + 1));
    (sum / n.max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_active_level_ignores_pauses() {
        let tone: Vec<f32> = (0..4_800).map(|i| 0.5 * (i as f32 * 0.1).sin()).collect();
        let mut with_pause = tone.clone();
        with_pause.extend(std::iter::repeat_n(0.0, 48_000));
        let (a, b) = (active_rms(&tone, 48_000), active_rms(&with_pause, 48_000));
        assert!(
            (a - b).abs() < 1e-9 && (a - rms(&tone)).abs() < 1e-3,
            "{a} {b}"
        );
        assert_eq!(active_rms(&[0.0; 100], 48_000), 0.0);
        assert_eq!(active_rms(&[], 48_000), 0.0);
    }
}
