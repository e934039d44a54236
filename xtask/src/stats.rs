//! Statistics for the evaluation: bootstrap intervals over files.

use quell_dsp::synth::Rng;

/// Mean of `x` with a bootstrap interval of 95 %: `resamples` means of `x.len()` values drawn with replacement
/// (seeded by `seed`), and their 2.5th and 97.5th percentiles. `None` for an empty slice. Allocates.
pub fn bootstrap_mean(x: &[f64], resamples: usize, seed: u64) -> Option<(f64, f64, f64)> {
    if x.is_empty() {
        return None;
    }
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let mut rng = Rng::new(seed);
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            (0..n)
                .map(|_| x[(rng.next_u64() % n as u64) as usize])
                .sum::<f64>()
                / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    Some((mean, at(0.025), at(0.975)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_holds_the_mean_and_narrows_with_more_files() {
        let mut rng = Rng::new(4);
        let few: Vec<f64> = (0..10).map(|_| 0.1 + rng.gaussian() * 0.2).collect();
        let many: Vec<f64> = (0..400).map(|_| 0.1 + rng.gaussian() * 0.2).collect();
        let (m1, lo1, hi1) = bootstrap_mean(&few, 2000, 1).unwrap();
        let (m2, lo2, hi2) = bootstrap_mean(&many, 2000, 1).unwrap();
        assert!(lo1 <= m1 && m1 <= hi1 && lo2 <= m2 && m2 <= hi2);
        assert!(hi2 - lo2 < (hi1 - lo1) / 3.0, "{lo1} {hi1} / {lo2} {hi2}");
        // For 400 draws of sd 0.2 the 95 % interval is about ±1.96 · 0.2 / 20 = ±0.02 around the mean.
        assert!(((hi2 - lo2) / 2.0 - 0.0196).abs() < 0.006, "{lo2} {hi2}");
        assert!((0.05..0.15).contains(&m2));
        assert_eq!(bootstrap_mean(&[], 10, 1), None);
        assert_eq!(bootstrap_mean(&[2.0], 10, 1), Some((2.0, 2.0, 2.0)));
    }
}
