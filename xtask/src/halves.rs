//! The two evaluation halves, disjoint in speakers and in noise recordings, and what training may use.
//!
//! - **Report half**: the corpus's whole `val` split (14 speakers, about 20 minutes of speech, 11 noise
//!   recordings and 58 key clips of three keyboards). The shipped model never trained on any of it, so the figures
//!   in `docs/quality.md` come from here, and nothing is tuned on it.
//! - **Tuning half**: the `train` speakers and noise files listed below, taken out of training. Every constant
//!   and model choice is made on mixtures of these. The `val` split alone is too small to be cut in two
//!   halves of about 8 speakers and 20 minutes each, so the tuning half is moved out of `train` instead; what
//!   training loses by it is stated in `docs/model.md`.
//!
//! `../shared/data` is read-only: the lists live here, in the repository.

use crate::data::Entry;

/// Which evaluation half a manifest entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Half {
    /// Mixtures for tuning constants and choosing models.
    Tuning,
    /// Mixtures for the figures reported in docs (never tuned on).
    Report,
}

impl Half {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Half::Tuning => "tuning",
            Half::Report => "report",
        }
    }
}

/// Speakers moved from `train` to the tuning half: four RAVDESS actors (full band, two male, two female) and
/// twelve speechocean762 speakers (16 kHz, six male, six female).
pub const TUNING_SPEAKERS: [&str; 16] = [
    "ravdess_17",
    "ravdess_18",
    "ravdess_19",
    "ravdess_20",
    "so762_0001",
    "so762_0005",
    "so762_0006",
    "so762_0026",
    "so762_0036",
    "so762_0053",
    "so762_0054",
    "so762_0056",
    "so762_0070",
    "so762_0103",
    "so762_0114",
    "so762_0133",
];

/// Noise recordings moved from `train` to the tuning half, at least one per category.
pub const TUNING_NOISE: [&str; 13] = [
    "noise/babble/moodist_places_crowded-bar.ogg",
    "noise/babble/blanket_coffee-shop.ogg",
    "noise/nonstationary/moodist_urban_road.ogg",
    "noise/nonstationary/moodist_nature_walk-on-gravel.ogg",
    "noise/nonstationary/speechcommands_doing_the_dishes.ogg",
    "noise/stationary/moodist_things_dryer.ogg",
    "noise/stationary/emgse_Car_Noise_Idle_Noise_60_mph.ogg",
    "noise/stationary/moodist_things_washing-machine.ogg",
    "noise/music/0ad_The_Fledgling_Kingdom.ogg",
    "noise/music/librosa_sorohanro_-_solo-trumpet-06.ogg",
    "noise/keyboard/mechvibes_cherrymx-brown-abs.ogg",
    "noise/keyboard_clips/mechvibes_holy-pandas_",
    "noise/keyboard_clips/mechvibes_turquoise_",
];

/// Whether `entry` is one of the tuning half's: its speaker is listed, or its path is (a listed path ending
/// in `_` stands for every key clip of that keyboard).
fn in_tuning_list(entry: &Entry) -> bool {
    if entry.kind == "speech" {
        return TUNING_SPEAKERS.contains(&entry.speaker.as_str());
    }
    TUNING_NOISE.iter().any(|p| {
        if p.ends_with('_') {
            entry.path.starts_with(p)
        } else {
            entry.path == *p
        }
    })
}

/// The half `entry` belongs to, or `None` when it is training material.
pub fn half_of(entry: &Entry) -> Option<Half> {
    match entry.split.as_str() {
        "val" => Some(Half::Report),
        "train" if in_tuning_list(entry) => Some(Half::Tuning),
        _ => None,
    }
}

/// Whether training may use `entry`: `train` split and in neither half.
pub fn is_training(entry: &Entry) -> bool {
    entry.split == "train" && half_of(entry).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn entry(path: &str, kind: &str, split: &str, speaker: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: kind.into(),
            category: "x".into(),
            split: split.into(),
            speaker: speaker.into(),
            stored_rate: 48_000,
            duration_s: 1.0,
        }
    }

    /// Speakers and noise paths of one half (key clips count by keyboard: the name up to the last `_`).
    fn members(entries: &[Entry], half: Half) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut speakers = BTreeSet::new();
        let mut noise = BTreeSet::new();
        for e in entries.iter().filter(|e| half_of(e) == Some(half)) {
            if e.kind == "speech" {
                speakers.insert(e.speaker.clone());
            } else if e.category == "keyboard_clips" {
                let keyboard = e.path.rsplit_once('_').map_or(e.path.as_str(), |(k, _)| k);
                noise.insert(keyboard.to_string());
            } else {
                noise.insert(e.path.clone());
            }
        }
        (speakers, noise)
    }

    #[test]
    fn the_lists_take_only_train_material_and_the_val_split_is_the_report_half() {
        let v = entry("speech/a.ogg", "speech", "val", "so762_0003");
        let t = entry("speech/b.ogg", "speech", "train", "so762_0001");
        let n = entry(
            "noise/music/0ad_The_Fledgling_Kingdom.ogg",
            "noise",
            "train",
            "",
        );
        let k = entry(
            "noise/keyboard_clips/mechvibes_turquoise_a.ogg",
            "noise",
            "train",
            "",
        );
        let other = entry("noise/music/0ad_Elysian_Fields.ogg", "noise", "train", "");
        assert_eq!(half_of(&v), Some(Half::Report));
        assert_eq!(half_of(&t), Some(Half::Tuning));
        assert_eq!(half_of(&n), Some(Half::Tuning));
        assert_eq!(half_of(&k), Some(Half::Tuning));
        assert_eq!(half_of(&other), None);
        assert!(is_training(&other));
        for e in [&v, &t, &n, &k] {
            assert!(!is_training(e), "{}", e.path);
        }
    }

    /// On the real corpus (when `../shared/data` is beside the checkout, as in CI): every listed name exists in
    /// `train`, the halves share no speaker and no noise recording, training uses neither, and each half is
    /// big enough to measure (8 speakers and 20 minutes of speech at least).
    #[test]
    fn on_the_corpus_the_halves_are_disjoint_and_big_enough() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
        if !root.join("manifest.csv").exists() {
            eprintln!("skipped: no corpus at {}", root.display());
            return;
        }
        let entries = crate::data::manifest(&root).unwrap();
        for s in TUNING_SPEAKERS {
            assert!(
                entries.iter().any(|e| e.speaker == s && e.split == "train"),
                "{s} is not a train speaker"
            );
        }
        for p in TUNING_NOISE {
            assert!(
                entries
                    .iter()
                    .any(|e| e.path.starts_with(p) && e.split == "train"),
                "{p} is not a train noise file"
            );
        }
        let (ts, tn) = members(&entries, Half::Tuning);
        let (rs, rn) = members(&entries, Half::Report);
        assert!(ts.is_disjoint(&rs), "shared speakers");
        assert!(tn.is_disjoint(&rn), "shared noise recordings");
        assert!(entries
            .iter()
            .filter(|e| is_training(e))
            .all(|e| half_of(e).is_none() && !ts.contains(&e.speaker)));
        for half in [Half::Tuning, Half::Report] {
            let minutes: f64 = entries
                .iter()
                .filter(|e| e.kind == "speech" && half_of(e) == Some(half))
                .map(|e| e.duration_s)
                .sum::<f64>()
                / 60.0;
            let (speakers, noise) = members(&entries, half);
            eprintln!(
                "{}: {} speakers, {minutes:.1} min of speech, {} noise recordings",
                half.name(),
                speakers.len(),
                noise.len()
            );
            assert!(
                speakers.len() >= 8 && minutes >= 20.0,
                "{} too small",
                half.name()
            );
        }
    }
}
