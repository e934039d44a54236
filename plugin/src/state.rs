//! Saved state: migration of older states and repair of damaged ones, before the host's state is loaded.
//!
//! nice-plug serialises a [`PluginState`] (parameter id → plain value, plus persisted fields as JSON strings)
//! and calls [`crate::Quell`]'s `filter_state` with it before loading. [`migrate`] runs there and guarantees
//! that what gets loaded is a complete, valid state:
//!
//! - every known parameter is present: one missing (a state saved before it existed, or cut short) gets its
//!   default, so an old project loads as it sounded then rather than inheriting the instance's current value;
//! - a value of the wrong type, non-finite or out of range is replaced by the default;
//! - the mode saved as a variant index (states written before the enum had stable ids) becomes its id;
//! - unknown ids are dropped; an editor size that does not parse or is absurd is replaced by the default.
//!
//! A state that is not JSON at all never reaches [`migrate`]: nice-plug refuses it and the host is told the
//! load failed, while the plugin keeps running with its current parameters.

use crate::params::{ids, EditorSize, Listen, Mode, MIX};
use nice_plug::plugin::{ParamValue, PluginState};
use quell_dsp::settings::{Range, Settings, VadGate};

/// What one parameter may hold, and its default.
enum Expect {
    /// A float within `min..=max`.
    F32 { default: f32, min: f32, max: f32 },
    /// A boolean.
    Bool(bool),
    /// An enum saved by variant id: allowed ids in variant order, and the default id.
    Enum {
        ids: &'static [&'static str],
        default: &'static str,
    },
}

/// A float parameter's expectation from its range.
const fn float(range: Range) -> Expect {
    Expect::F32 {
        default: range.default,
        min: range.min,
        max: range.max,
    }
}

/// Every parameter the current version has, with what it may hold: the ranges and defaults of
/// [`quell_dsp::Settings`] and [`crate::params`], never restated here.
const SCHEMA: &[(&str, Expect)] = &[
    (ids::REDUCTION, float(Settings::REDUCTION_DB)),
    (
        ids::MODE,
        Expect::Enum {
            ids: &Mode::IDS,
            default: Mode::DEFAULT.id(),
        },
    ),
    (ids::GATE, Expect::Bool(VadGate::DEFAULT.enabled)),
    (ids::GATE_THRESHOLD, float(Settings::GATE_THRESHOLD)),
    (ids::GATE_HOLD, float(Settings::GATE_HOLD_MS)),
    (ids::MIX, float(MIX)),
    (ids::BYPASS, Expect::Bool(false)),
    (
        ids::LISTEN,
        Expect::Enum {
            ids: &Listen::IDS,
            default: Listen::IDS[0],
        },
    ),
];

/// What [`migrate`] changed, for tests and logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Parameters that were missing and got their default.
    pub defaulted: usize,
    /// Parameters whose value was invalid and got their default.
    pub repaired: usize,
    /// Values converted from an older representation.
    pub converted: usize,
    /// Unknown ids removed.
    pub dropped: usize,
    /// Whether the editor size was replaced.
    pub editor_size_reset: bool,
}

/// Migrates and repairs `state` in place so that it holds exactly the current parameters, each valid (see the
/// module documentation). Allocates (runs on the main thread when a host loads state).
pub fn migrate(state: &mut PluginState) -> MigrationReport {
    let mut report = MigrationReport::default();
    let before = state.params.len();
    state
        .params
        .retain(|id, _| SCHEMA.iter().any(|(known, _)| known == id));
    report.dropped = before - state.params.len();

    for (id, expect) in SCHEMA {
        let fixed = match (expect, state.params.get(*id)) {
            (Expect::F32 { default, .. }, None) => {
                report.defaulted += 1;
                ParamValue::F32(*default)
            }
            (Expect::F32 { min, max, .. }, Some(ParamValue::F32(v)))
                if v.is_finite() && (*min..=*max).contains(v) =>
            {
                continue
            }
            (Expect::F32 { default, .. }, Some(_)) => {
                report.repaired += 1;
                ParamValue::F32(*default)
            }
            (Expect::Bool(default), None) => {
                report.defaulted += 1;
                ParamValue::Bool(*default)
            }
            (Expect::Bool(_), Some(ParamValue::Bool(_))) => continue,
            (Expect::Bool(default), Some(_)) => {
                report.repaired += 1;
                ParamValue::Bool(*default)
            }
            (Expect::Enum { default, .. }, None) => {
                report.defaulted += 1;
                ParamValue::String((*default).to_owned())
            }
            (Expect::Enum { ids, .. }, Some(ParamValue::String(s)))
                if ids.contains(&s.as_str()) =>
            {
                continue
            }
            (Expect::Enum { ids, .. }, Some(ParamValue::I32(i)))
                if usize::try_from(*i).is_ok_and(|i| i < ids.len()) =>
            {
                report.converted += 1;
                ParamValue::String(ids[*i as usize].to_owned())
            }
            (Expect::Enum { default, .. }, Some(_)) => {
                report.repaired += 1;
                ParamValue::String((*default).to_owned())
            }
        };
        state.params.insert((*id).to_owned(), fixed);
    }

    // Persisted fields: only the editor size is known.
    let size = state
        .fields
        .get(ids::EDITOR_SIZE)
        .and_then(|json| serde_json::from_str::<EditorSize>(json).ok());
    let size = match size {
        Some(s)
            if (EditorSize::MIN.width..=EditorSize::MAX.width).contains(&s.width)
                && (EditorSize::MIN.height..=EditorSize::MAX.height).contains(&s.height) =>
        {
            s
        }
        _ => {
            report.editor_size_reset = true;
            EditorSize::default()
        }
    };
    state.fields.clear();
    if let Ok(json) = serde_json::to_string(&size) {
        state.fields.insert(ids::EDITOR_SIZE.to_owned(), json);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn current() -> PluginState {
        let mut params = BTreeMap::new();
        params.insert(ids::REDUCTION.into(), ParamValue::F32(12.5));
        params.insert(ids::MODE.into(), ParamValue::String("classic".into()));
        params.insert(ids::GATE.into(), ParamValue::Bool(true));
        params.insert(ids::GATE_THRESHOLD.into(), ParamValue::F32(0.6));
        params.insert(ids::GATE_HOLD.into(), ParamValue::F32(350.0));
        params.insert(ids::MIX.into(), ParamValue::F32(0.75));
        params.insert(ids::BYPASS.into(), ParamValue::Bool(false));
        params.insert(ids::LISTEN.into(), ParamValue::String("removed".into()));
        let mut fields = BTreeMap::new();
        fields.insert(
            ids::EDITOR_SIZE.into(),
            r#"{"width":1000,"height":700}"#.into(),
        );
        PluginState {
            version: env!("CARGO_PKG_VERSION").into(),
            params,
            fields,
        }
    }

    fn json(state: &PluginState) -> String {
        serde_json::to_string(state).unwrap()
    }

    #[test]
    fn a_valid_state_round_trips_unchanged() {
        let state = current();
        let text = json(&state);
        let mut back: PluginState = serde_json::from_str(&text).unwrap();
        assert_eq!(migrate(&mut back), MigrationReport::default());
        assert_eq!(json(&back), text);
    }

    #[test]
    fn an_old_state_gets_defaults_for_what_it_lacks_and_ids_for_indices() {
        let mut state = current();
        state.version = "0.0.1".into();
        state.params.remove(ids::MIX);
        state.params.remove(ids::GATE_HOLD);
        state.params.insert(ids::MODE.into(), ParamValue::I32(1));
        state.fields.clear();
        let report = migrate(&mut state);
        assert_eq!(report.defaulted, 2);
        assert_eq!(report.converted, 1);
        assert!(report.editor_size_reset);
        assert!(matches!(state.params[ids::MIX], ParamValue::F32(v) if v == 1.0));
        assert!(matches!(&state.params[ids::MODE], ParamValue::String(s) if s == "classic"));
        assert!(matches!(state.params[ids::REDUCTION], ParamValue::F32(v) if v == 12.5));
    }

    #[test]
    fn a_state_from_before_the_listen_switch_plays_the_voice() {
        let mut state = current();
        state.params.remove(ids::LISTEN);
        assert_eq!(migrate(&mut state).defaulted, 1);
        assert!(matches!(&state.params[ids::LISTEN], ParamValue::String(s) if s == "voice"));
    }

    #[test]
    fn corrupt_values_fall_back_to_defaults() {
        let mut state = current();
        state
            .params
            .insert(ids::REDUCTION.into(), ParamValue::F32(f32::NAN));
        state.params.insert(ids::MIX.into(), ParamValue::F32(7.0));
        state.params.insert(ids::GATE.into(), ParamValue::F32(1.0));
        state
            .params
            .insert(ids::MODE.into(), ParamValue::String("turbo".into()));
        state.params.insert("bogus".into(), ParamValue::I32(3));
        state
            .fields
            .insert(ids::EDITOR_SIZE.into(), r#"{"width":-4"#.into());
        state.fields.insert("junk".into(), "{".into());
        let report = migrate(&mut state);
        assert_eq!(report.repaired, 4);
        assert_eq!(report.dropped, 1);
        assert!(report.editor_size_reset);
        assert!(
            matches!(state.params[ids::REDUCTION], ParamValue::F32(v) if v == Settings::REDUCTION_DB.default)
        );
        assert!(matches!(state.params[ids::MIX], ParamValue::F32(v) if v == 1.0));
        assert!(matches!(state.params[ids::GATE], ParamValue::Bool(false)));
        assert!(matches!(&state.params[ids::MODE], ParamValue::String(s) if s == "neural"));
        assert_eq!(state.fields.len(), 1);
        let size: EditorSize = serde_json::from_str(&state.fields[ids::EDITOR_SIZE]).unwrap();
        assert_eq!(size, EditorSize::default());
        // Migrating again changes nothing.
        assert_eq!(migrate(&mut state), MigrationReport::default());
    }

    #[test]
    fn an_empty_state_becomes_the_defaults() {
        let mut state = PluginState {
            version: String::new(),
            params: BTreeMap::new(),
            fields: BTreeMap::new(),
        };
        let report = migrate(&mut state);
        assert_eq!(report.defaulted, SCHEMA.len());
        assert_eq!(state.params.len(), SCHEMA.len());
    }

    #[test]
    fn the_schema_matches_the_parameters() {
        use nice_plug::prelude::Params;
        let params = crate::params::QuellParams::default();
        let mut ids: Vec<String> = params
            .param_map()
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
        ids.sort();
        let mut schema: Vec<String> = SCHEMA.iter().map(|(id, _)| (*id).to_owned()).collect();
        schema.sort();
        assert_eq!(ids, schema);
    }
}
