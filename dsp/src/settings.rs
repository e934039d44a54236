//! The engine's knobs as one plain-data value, with their defaults and ranges defined here once.
//!
//! The plugin's parameters, its state migration and the command line all take their defaults and ranges from
//! this module instead of restating them. A host automates these values; the engine applies them at the next
//! 10 ms frame ([`crate::Engine::set_settings`]).

/// Where the mask comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskMode {
    /// Classic MCRA noise tracker with MMSE-LSA gains ([`crate::classic`]).
    Classic,
    /// Every gain one and no comb filter: the output is the input delayed by the latency (reference, tests).
    Unity,
    /// The neural network's band gains ([`crate::neural`]). Without a model loaded, behaves as `Classic`.
    Neural,
}

impl MaskMode {
    /// A one-byte code for lock-free hand-offs (an `AtomicU8` between audio thread and editor). Does not
    /// allocate.
    pub const fn code(self) -> u8 {
        match self {
            MaskMode::Classic => 0,
            MaskMode::Neural => 1,
            MaskMode::Unity => 2,
        }
    }

    /// The mode of a [`MaskMode::code`]; an unknown code reads as `Classic`. Does not allocate.
    pub const fn from_code(code: u8) -> MaskMode {
        match code {
            1 => MaskMode::Neural,
            2 => MaskMode::Unity,
            _ => MaskMode::Classic,
        }
    }
}

/// A continuous setting's range and default, in the setting's own unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Smallest allowed value.
    pub min: f32,
    /// Largest allowed value.
    pub max: f32,
    /// The default, within `min..=max`.
    pub default: f32,
}

impl Range {
    /// Whether `x` is finite and within the range.
    pub fn contains(&self, x: f32) -> bool {
        x.is_finite() && (self.min..=self.max).contains(&x)
    }

    /// `x` clamped to the range; a non-finite `x` gives the default. Does not allocate.
    pub fn clamp(&self, x: f32) -> f32 {
        if x.is_finite() {
            x.clamp(self.min, self.max)
        } else {
            self.default
        }
    }
}

/// The optional voice-activity gate: after the mask, frames the network judges to be without speech are
/// attenuated down to the maximum attenuation. It opens as soon as a frame's speech probability reaches the
/// threshold, holds for `hold_ms` after the last such frame and then closes gradually
/// ([`crate::mask::GATE_RELEASE_DB_PER_FRAME`]), so word ends fade rather than stop. It has no look-ahead: a
/// frame that stands [`crate::mask::GATE_ONSET_SNR_DB`] above the noise estimate (or
/// [`crate::mask::GATE_FRICATIVE_ONSET_SNR_DB`] above it from 2 kHz) opens it for that frame while the network is
/// not yet sure, so that a word's onset after a pause is kept (measured in `dsp/tests/gate_onsets.rs`: within
/// 0.01 dB over the first 30 ms for plosives and fricatives down to a /f/ 1 dB over a −45 dBFS pink floor).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadGate {
    /// Whether the gate acts (off by default).
    pub enabled: bool,
    /// Speech probability (0..=1) at or above which the gate opens ([`Settings::GATE_THRESHOLD`]).
    pub threshold: f32,
    /// Time the gate stays open after the last speech frame, milliseconds ([`Settings::GATE_HOLD_MS`]).
    pub hold_ms: f32,
}

impl VadGate {
    /// The gate's defaults: off, threshold 0.8, hold 200 ms.
    pub const DEFAULT: VadGate = VadGate {
        enabled: false,
        threshold: Settings::GATE_THRESHOLD.default,
        hold_ms: Settings::GATE_HOLD_MS.default,
    };

    /// This gate with threshold and hold limited to their ranges (non-finite values become the defaults). Does
    /// not allocate.
    pub fn clamped(self) -> VadGate {
        VadGate {
            enabled: self.enabled,
            threshold: Settings::GATE_THRESHOLD.clamp(self.threshold),
            hold_ms: Settings::GATE_HOLD_MS.clamp(self.hold_ms),
        }
    }
}

impl Default for VadGate {
    fn default() -> Self {
        VadGate::DEFAULT
    }
}

/// Everything a user sets on the engine. Plain data, `Copy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Maximum attenuation ("reduction"), dB; 0 leaves the signal untouched ([`Settings::REDUCTION_DB`]).
    pub reduction_db: f32,
    /// Mask source asked for (neural falls back to classic while no model is loaded).
    pub mode: MaskMode,
    /// The voice-activity gate.
    pub gate: VadGate,
}

impl Settings {
    /// Maximum attenuation, dB: 0 to 60, default 40. (30 until 2026-12-07; 40 measured +0.012 PESQ-WB overall and
    /// +0.043 on typing with the shipped model on the tuning half, `docs/quality.md`.)
    pub const REDUCTION_DB: Range = Range {
        min: 0.0,
        max: 60.0,
        default: 40.0,
    };
    /// Gate threshold, speech probability: 0 to 1, default 0.8. The shipped network's speech probability sits
    /// around 0.3–0.6 in steady noise between words and near 1 in speech.
    pub const GATE_THRESHOLD: Range = Range {
        min: 0.0,
        max: 1.0,
        default: 0.8,
    };
    /// Gate hold, milliseconds: 0 to 1000, default 200.
    pub const GATE_HOLD_MS: Range = Range {
        min: 0.0,
        max: 1000.0,
        default: 200.0,
    };
    /// The mode a new plugin instance or command-line run starts in.
    pub const DEFAULT_MODE: MaskMode = MaskMode::Neural;

    /// The defaults of every setting.
    pub const DEFAULT: Settings = Settings {
        reduction_db: Settings::REDUCTION_DB.default,
        mode: Settings::DEFAULT_MODE,
        gate: VadGate::DEFAULT,
    };

    /// These settings with every value limited to its range (non-finite values become the defaults). Does not
    /// allocate.
    pub fn clamped(self) -> Settings {
        Settings {
            reduction_db: Settings::REDUCTION_DB.clamp(self.reduction_db),
            mode: self.mode,
            gate: self.gate.clamped(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_lie_inside_their_ranges() {
        for r in [
            Settings::REDUCTION_DB,
            Settings::GATE_THRESHOLD,
            Settings::GATE_HOLD_MS,
        ] {
            assert!(r.min < r.max && r.contains(r.default), "{r:?}");
        }
        assert_eq!(Settings::DEFAULT.clamped(), Settings::DEFAULT);
        assert_eq!(VadGate::default(), Settings::DEFAULT.gate);
    }

    #[test]
    fn clamping_limits_values_and_replaces_non_finite_ones_by_the_default() {
        let wild = Settings {
            reduction_db: 500.0,
            mode: MaskMode::Classic,
            gate: VadGate {
                enabled: true,
                threshold: f32::NAN,
                hold_ms: -3.0,
            },
        }
        .clamped();
        assert_eq!(wild.reduction_db, Settings::REDUCTION_DB.max);
        assert_eq!(wild.gate.threshold, Settings::GATE_THRESHOLD.default);
        assert_eq!(wild.gate.hold_ms, 0.0);
        assert_eq!(
            Settings::REDUCTION_DB.clamp(f32::INFINITY),
            Settings::REDUCTION_DB.default
        );
    }

    #[test]
    fn mode_codes_round_trip() {
        for mode in [MaskMode::Classic, MaskMode::Neural, MaskMode::Unity] {
            assert_eq!(MaskMode::from_code(mode.code()), mode);
        }
        assert_eq!(MaskMode::from_code(200), MaskMode::Classic);
    }
}
