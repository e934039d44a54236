//! The plugin's parameters: stable ids, ranges, units and defaults.
//!
//! The ids in [`ids`] are saved in every host project and automation lane: once released they never change.
//! Defaults and ranges live here once and are shared with the state migration ([`crate::state`]).

use crate::processor::Settings;
use crate::state::EditorSize;
use nice_plug::prelude::*;
use quell_dsp::{MaskMode, VadGate};
use std::sync::{Arc, RwLock};

/// Stable parameter ids (never change one once released) and the persisted field key.
pub mod ids {
    /// Maximum attenuation, dB.
    pub const REDUCTION: &str = "reduction";
    /// Mask source, an enum saved by its variant id (`"neural"`, `"classic"`).
    pub const MODE: &str = "mode";
    /// Voice-activity gate on/off.
    pub const GATE: &str = "gate";
    /// Gate threshold, speech probability 0..=1.
    pub const GATE_THRESHOLD: &str = "gate_thr";
    /// Gate hold, ms.
    pub const GATE_HOLD: &str = "gate_hold";
    /// Dry/wet mix, 0..=1.
    pub const MIX: &str = "mix";
    /// The host's bypass.
    pub const BYPASS: &str = "bypass";
    /// Persisted editor size (JSON `{"width":…,"height":…}`, logical pixels).
    pub const EDITOR_SIZE: &str = "editor-size";
}

/// Range of [`QuellParams::reduction`], dB.
pub const REDUCTION_RANGE_DB: (f32, f32) = (0.0, 60.0);
/// Default of [`QuellParams::reduction`], dB (the engine's default).
pub const REDUCTION_DEFAULT_DB: f32 = quell_dsp::engine::DEFAULT_MAX_ATTENUATION_DB;
/// Range of [`QuellParams::gate_hold`], ms.
pub const GATE_HOLD_RANGE_MS: (f32, f32) = (0.0, 1000.0);
/// Defaults of the gate (the engine's): off, threshold 0.8, hold 200 ms.
pub const GATE_DEFAULT: VadGate = VadGate {
    enabled: false,
    threshold: 0.8,
    hold_ms: 200.0,
};

/// Where the suppression mask comes from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The int8 GRU network (falls back to classic in builds without a model).
    #[id = "neural"]
    #[name = "Neural"]
    Neural,
    /// The classic statistical suppressor (MCRA noise tracking, MMSE-LSA gains).
    #[id = "classic"]
    #[name = "Classic"]
    Classic,
}

impl Mode {
    /// The engine's mask mode.
    pub fn mask_mode(self) -> MaskMode {
        match self {
            Mode::Neural => MaskMode::Neural,
            Mode::Classic => MaskMode::Classic,
        }
    }
}

/// All parameters and persisted fields. Shared by the plugin, the audio thread and the editor.
#[derive(Params)]
pub struct QuellParams {
    /// Size of the editor window, logical pixels; restored with the project.
    #[persist = "editor-size"]
    pub editor_size: Arc<RwLock<EditorSize>>,

    /// Suppression strength: the most the noise is turned down, dB (0 = untouched).
    #[id = "reduction"]
    pub reduction: FloatParam,
    /// Mask source.
    #[id = "mode"]
    pub mode: EnumParam<Mode>,
    /// Whether the voice-activity gate acts.
    #[id = "gate"]
    pub gate: BoolParam,
    /// Speech probability (0..=1) at which the gate opens.
    #[id = "gate_thr"]
    pub gate_threshold: FloatParam,
    /// Time the gate stays open after speech, ms.
    #[id = "gate_hold"]
    pub gate_hold: FloatParam,
    /// Dry/wet mix, 0..=1 (shown in %). Ramped by the processor, not here.
    #[id = "mix"]
    pub mix: FloatParam,
    /// The host's bypass: a click-free crossfade to the input delayed by the latency.
    #[id = "bypass"]
    pub bypass: BoolParam,
}

impl Default for QuellParams {
    fn default() -> Self {
        QuellParams {
            editor_size: Arc::new(RwLock::new(EditorSize::default())),
            reduction: FloatParam::new(
                "Reduction",
                REDUCTION_DEFAULT_DB,
                FloatRange::Linear {
                    min: REDUCTION_RANGE_DB.0,
                    max: REDUCTION_RANGE_DB.1,
                },
            )
            .with_unit(" dB")
            .with_step_size(0.1)
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            mode: EnumParam::new("Mode", Mode::Neural),
            gate: BoolParam::new("Voice gate", GATE_DEFAULT.enabled),
            gate_threshold: FloatParam::new(
                "Gate threshold",
                GATE_DEFAULT.threshold,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            gate_hold: FloatParam::new(
                "Gate hold",
                GATE_DEFAULT.hold_ms,
                FloatRange::Skewed {
                    min: GATE_HOLD_RANGE_MS.0,
                    max: GATE_HOLD_RANGE_MS.1,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_unit(" ms")
            .with_step_size(1.0),
            mix: FloatParam::new("Mix", 1.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
        }
    }
}

impl QuellParams {
    /// The current values as processor settings. Does not allocate.
    pub fn settings(&self) -> Settings {
        Settings {
            reduction_db: self.reduction.value(),
            mode: self.mode.value().mask_mode(),
            gate: VadGate {
                enabled: self.gate.value(),
                threshold: self.gate_threshold.value(),
                hold_ms: self.gate_hold.value(),
            },
            mix: self.mix.value(),
            bypass: self.bypass.value(),
        }
    }
}
