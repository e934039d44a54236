//! Typed errors of the engine.

use std::fmt;

/// Everything that can go wrong when building an [`crate::Engine`]. Processing itself never fails.
#[derive(Debug, Clone, PartialEq)]
pub enum DspError {
    /// The sample rate (Hz) is not finite or outside the supported range.
    UnsupportedSampleRate {
        /// The rate that was asked for, in Hz.
        rate: f32,
        /// Lowest supported rate, in Hz.
        min: f32,
        /// Highest supported rate, in Hz.
        max: f32,
    },
    /// The channel count is zero or above the supported maximum.
    UnsupportedChannelCount {
        /// The count that was asked for.
        channels: usize,
        /// Highest supported count.
        max: usize,
    },
}

impl fmt::Display for DspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DspError::UnsupportedSampleRate { rate, min, max } => write!(
                f,
                "unsupported sample rate {rate} Hz (supported: {min} Hz to {max} Hz)"
            ),
            DspError::UnsupportedChannelCount { channels, max } => {
                write!(
                    f,
                    "unsupported channel count {channels} (supported: 1 to {max})"
                )
            }
        }
    }
}

impl std::error::Error for DspError {}
