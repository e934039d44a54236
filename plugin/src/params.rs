//! The plugin's parameters: stable ids, ranges, units and defaults.
//!
//! The ids in [`ids`] are saved in every host project and automation lane: once released they never change.
//! Ranges and defaults come from [`quell_dsp::Settings`] (the engine's knobs) and [`MIX`] (the plugin's own);
//! the state migration ([`crate::state`]) takes them from the same place.

use crate::processor::PluginSettings;
use nice_plug::prelude::*;
use quell_dsp::settings::{MaskMode, Range, Settings, VadGate};
use serde::{Deserialize, Serialize};
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
    /// What is heard: the voice (normal) or what was removed.
    pub const LISTEN: &str = "listen";
    /// Persisted editor size (JSON `{"width":…,"height":…}`, logical pixels).
    pub const EDITOR_SIZE: &str = "editor-size";
}

/// Range and default of [`QuellParams::mix`], 0 (dry) ..= 1 (fully processed). The engine's own settings take
/// their ranges and defaults from [`quell_dsp::Settings`].
pub const MIX: Range = Range {
    min: 0.0,
    max: 1.0,
    default: 1.0,
};

/// Size of the editor window, logical pixels. Persisted with the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorSize {
    /// Width, logical pixels.
    pub width: u32,
    /// Height, logical pixels.
    pub height: u32,
}

impl EditorSize {
    /// The smallest size the editor allows, logical pixels.
    pub const MIN: EditorSize = EditorSize {
        width: 640,
        height: 420,
    };
    /// The largest size accepted from a saved state, logical pixels.
    pub const MAX: EditorSize = EditorSize {
        width: 4096,
        height: 4096,
    };

    /// This size limited to [`EditorSize::MIN`]..=[`EditorSize::MAX`]. Does not allocate.
    pub fn clamped(self) -> EditorSize {
        EditorSize {
            width: self.width.clamp(Self::MIN.width, Self::MAX.width),
            height: self.height.clamp(Self::MIN.height, Self::MAX.height),
        }
    }
}

impl Default for EditorSize {
    fn default() -> Self {
        EditorSize {
            width: 860,
            height: 560,
        }
    }
}

/// What the main output carries.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// The processed voice (normal use).
    #[id = "voice"]
    #[name = "Voice"]
    Voice,
    /// What Quell removes: the input delayed by the latency minus the voice output. For checking that no
    /// speech is being taken; never leave it on in a mix.
    #[id = "removed"]
    #[name = "Removed"]
    Removed,
}

impl Listen {
    /// The saved ids of the variants, in variant order (a test ties them to the `#[id]` attributes).
    pub const IDS: [&'static str; 2] = ["voice", "removed"];
}

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
    /// The saved ids of the variants, in variant order (as the `#[id]` attributes say; a test ties them).
    pub const IDS: [&'static str; 2] = ["neural", "classic"];

    /// The mode a new instance starts in: the engine's default ([`Settings::DEFAULT_MODE`]).
    pub const DEFAULT: Mode = match Settings::DEFAULT_MODE {
        MaskMode::Classic => Mode::Classic,
        _ => Mode::Neural,
    };

    /// The saved id of this variant.
    pub const fn id(self) -> &'static str {
        match self {
            Mode::Neural => Mode::IDS[0],
            Mode::Classic => Mode::IDS[1],
        }
    }

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
    /// What the output carries: the voice, or what is removed (crossfaded over 20 ms when switched).
    #[id = "listen"]
    pub listen: EnumParam<Listen>,
}

impl Default for QuellParams {
    fn default() -> Self {
        QuellParams {
            editor_size: Arc::new(RwLock::new(EditorSize::default())),
            reduction: FloatParam::new(
                "Reduction",
                Settings::REDUCTION_DB.default,
                FloatRange::Linear {
                    min: Settings::REDUCTION_DB.min,
                    max: Settings::REDUCTION_DB.max,
                },
            )
            .with_unit(" dB")
            .with_step_size(0.1)
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            mode: EnumParam::new("Mode", Mode::DEFAULT),
            gate: BoolParam::new("Voice gate", VadGate::DEFAULT.enabled),
            gate_threshold: FloatParam::new(
                "Gate threshold",
                Settings::GATE_THRESHOLD.default,
                FloatRange::Linear {
                    min: Settings::GATE_THRESHOLD.min,
                    max: Settings::GATE_THRESHOLD.max,
                },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            gate_hold: FloatParam::new(
                "Gate hold",
                Settings::GATE_HOLD_MS.default,
                FloatRange::Skewed {
                    min: Settings::GATE_HOLD_MS.min,
                    max: Settings::GATE_HOLD_MS.max,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_unit(" ms")
            .with_step_size(1.0),
            mix: FloatParam::new(
                "Mix",
                MIX.default,
                FloatRange::Linear {
                    min: MIX.min,
                    max: MIX.max,
                },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            listen: EnumParam::new("Listen", Listen::Voice),
        }
    }
}

impl QuellParams {
    /// The current values as processor settings. Does not allocate.
    pub fn settings(&self) -> PluginSettings {
        PluginSettings {
            engine: Settings {
                reduction_db: self.reduction.value(),
                mode: self.mode.value().mask_mode(),
                gate: VadGate {
                    enabled: self.gate.value(),
                    threshold: self.gate_threshold.value(),
                    hold_ms: self.gate_hold.value(),
                },
            },
            mix: self.mix.value(),
            bypass: self.bypass.value(),
            listen_removed: self.listen.value() == Listen::Removed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_ids_are_the_enum_ids_and_the_default_is_the_engines() {
        assert_eq!(Mode::ids(), Some(&Mode::IDS[..]));
        assert_eq!(Mode::DEFAULT.mask_mode(), Settings::DEFAULT_MODE);
        assert_eq!(Mode::from_index(0).id(), Mode::IDS[0]);
        assert_eq!(Listen::ids(), Some(&Listen::IDS[..]));
    }

    #[test]
    fn a_new_instance_plays_the_engines_defaults() {
        let p = QuellParams::default();
        let s = p.settings();
        assert_eq!(s.engine, Settings::DEFAULT);
        assert_eq!(s.mix, MIX.default);
        assert!(!s.bypass && !s.listen_removed);
    }
}
