//! The analysis/synthesis window.
//!
//! Quell uses the Vorbis window, `w[n] = sin(π/2 · sin²(π (n + ½) / N))`. It is power-complementary at 50 %
//! overlap (`w[n]² + w[n + N/2]² = 1`), so applying it once before the FFT and once after the inverse FFT and
//! overlap-adding with a hop of `N/2` reconstructs the input exactly when every gain is one.

use std::f64::consts::PI;

/// Fills `out` with a Vorbis window of length `out.len()` (which must be even). Does not allocate.
pub fn vorbis_into(out: &mut [f32]) {
    let n = out.len() as f64;
    for (i, w) in out.iter_mut().enumerate() {
        let s = (PI * (i as f64 + 0.5) / n).sin();
        *w = (0.5 * PI * s * s).sin() as f32;
    }
}

/// Returns a Vorbis window of `len` samples. Allocates the returned vector.
pub fn vorbis(len: usize) -> Vec<f32> {
    let mut w = vec![0.0; len];
    vorbis_into(&mut w);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_complementary() {
        for len in [160usize, 320, 882, 960, 1920, 3840] {
            let w = vorbis(len);
            let h = len / 2;
            for i in 0..h {
                let s = w[i] * w[i] + w[i + h] * w[i + h];
                assert!((s - 1.0).abs() < 1e-6, "len {len} i {i}: {s}");
            }
        }
    }
}
