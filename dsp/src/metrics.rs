//! Quality measures shared by tests, benchmarks and the evaluation command. None of them allocate.

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
