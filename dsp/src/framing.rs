//! How a host sample rate maps onto frames.
//!
//! The window is 20 ms *in time* and the hop 10 ms, so the bin spacing is 50 Hz at every rate: 960 points at
//! 48 kHz, 882 at 44.1 kHz, 1920 at 96 kHz, 320 at 16 kHz. Band edges given in Hz therefore land on the same bins
//! and a model sees the same features whatever the host runs at.
//!
//! Rates whose 10 ms hop is not a whole number of samples (22.05 kHz, 11.025 kHz) use the nearest whole hop
//! (221 and 110 samples): the bins are then 49.89 Hz and 50.11 Hz apart, a 0.2 % frequency warp of the band edges, far
//! below the width of any band. They are processed normally, never refused.
//!
//! Rates below [`MIN_SAMPLE_RATE`] or above [`MAX_SAMPLE_RATE`] are refused with a typed error; a host adapter
//! passes audio through untouched in that case.

use crate::DspError;

/// Lowest supported sample rate, Hz.
pub const MIN_SAMPLE_RATE: f32 = 8_000.0;
/// Highest supported sample rate, Hz.
pub const MAX_SAMPLE_RATE: f32 = 384_000.0;
/// Hop length, seconds (the window is twice this).
pub const HOP_SECONDS: f64 = 0.010;

/// Frame geometry for one sample rate. Plain data; cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameLayout {
    /// Host sample rate, Hz.
    pub sample_rate: f32,
    /// Window (and FFT) length, samples. Always even.
    pub window: usize,
    /// Hop, samples: `window / 2`.
    pub hop: usize,
    /// Number of real-FFT bins: `window / 2 + 1`.
    pub bins: usize,
    /// Spacing of the bins, Hz (50 Hz, or within 0.3 % of it).
    pub bin_hz: f32,
}

impl FrameLayout {
    /// The layout for `sample_rate` (Hz). Fails for non-finite rates and rates outside
    /// [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`]. Does not allocate.
    pub fn new(sample_rate: f32) -> Result<Self, DspError> {
        if !sample_rate.is_finite() || !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(DspError::UnsupportedSampleRate {
                rate: sample_rate,
                min: MIN_SAMPLE_RATE,
                max: MAX_SAMPLE_RATE,
            });
        }
        let hop = (sample_rate as f64 * HOP_SECONDS).round() as usize;
        let window = hop * 2;
        Ok(FrameLayout {
            sample_rate,
            window,
            hop,
            bins: window / 2 + 1,
            bin_hz: sample_rate / window as f32,
        })
    }

    /// Frequency of the highest bin (Nyquist), Hz.
    pub fn nyquist_hz(&self) -> f32 {
        self.sample_rate * 0.5
    }

    /// Converts seconds to samples at this rate, rounded. Does not allocate.
    pub fn seconds_to_samples(&self, seconds: f32) -> usize {
        (seconds * self.sample_rate).round().max(0.0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_rates_have_50_hz_bins() {
        for (rate, window) in [
            (8_000.0, 160),
            (16_000.0, 320),
            (32_000.0, 640),
            (44_100.0, 882),
            (48_000.0, 960),
            (88_200.0, 1764),
            (96_000.0, 1920),
            (176_400.0, 3528),
            (192_000.0, 3840),
        ] {
            let l = FrameLayout::new(rate).unwrap();
            assert_eq!(l.window, window, "rate {rate}");
            assert_eq!(l.hop * 2, l.window);
            assert!((l.bin_hz - 50.0).abs() < 1e-3);
        }
    }

    #[test]
    fn fractional_hop_rates_round() {
        let l = FrameLayout::new(22_050.0).unwrap();
        assert_eq!((l.window, l.hop), (442, 221));
        let l = FrameLayout::new(11_025.0).unwrap();
        assert_eq!((l.window, l.hop), (220, 110));
        assert!((l.bin_hz - 50.0).abs() < 0.2);
    }

    #[test]
    fn absurd_rates_are_refused() {
        for r in [0.0, -1.0, f32::NAN, f32::INFINITY, 7_999.0, 1e7] {
            assert!(FrameLayout::new(r).is_err(), "{r}");
        }
    }
}
