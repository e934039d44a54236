//! The training and validation corpus: `manifest.csv` of `../shared/data` (or any folder with that layout).
//! Clips are decoded once, resampled to 48 kHz and kept in memory with their real bandwidth.

use crate::audio::{decode, resample};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The engine rate the trainer works at, Hz.
pub const RATE: u32 = 48_000;

/// One row of the manifest.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the data folder.
    pub path: String,
    /// `speech` or `noise`.
    pub kind: String,
    /// Category (`full-band`, `babble`, `keyboard_clips`, ...).
    pub category: String,
    /// `train` or `val`.
    pub split: String,
    /// Speaker id (speech; empty for noise).
    pub speaker: String,
    /// Stored sample rate, Hz.
    pub stored_rate: u32,
    /// Duration, seconds.
    pub duration_s: f64,
}

/// Reads `manifest.csv` in `root`.
pub fn manifest(root: &Path) -> Result<Vec<Entry>> {
    let path = root.join("manifest.csv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty manifest")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("manifest has no '{name}' column"))
    };
    let (c_path, c_kind, c_cat, c_split, c_speaker, c_rate) = (
        col("path")?,
        col("kind")?,
        col("category")?,
        col("split")?,
        col("speaker")?,
        col("stored_rate")?,
    );
    let c_duration = col("duration_s")?;
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f = split_csv(line);
        if f.len() != header.len() {
            bail!(
                "manifest line {}: {} fields, expected {}",
                i + 2,
                f.len(),
                header.len()
            );
        }
        out.push(Entry {
            path: f[c_path].clone(),
            kind: f[c_kind].clone(),
            category: f[c_cat].clone(),
            split: f[c_split].clone(),
            speaker: f[c_speaker].clone(),
            stored_rate: f[c_rate]
                .parse()
                .with_context(|| format!("manifest line {}: stored_rate", i + 2))?,
            duration_s: f[c_duration]
                .parse()
                .with_context(|| format!("manifest line {}: duration_s", i + 2))?,
        });
    }
    Ok(out)
}

/// Splits one CSV line, honouring double-quoted fields (with `""` for a quote inside one).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// A decoded clip at 48 kHz.
#[derive(Debug, Clone, Default)]
pub struct Clip {
    /// Samples at [`RATE`].
    pub samples: Vec<f32>,
    /// Highest frequency the source can hold (half its stored rate), Hz.
    pub bandwidth_hz: f32,
    /// Path of the source file relative to the data folder (empty for generated clips).
    pub path: String,
    /// The manifest's category (`full-band`, `babble`, `keyboard`, ...).
    pub category: String,
    /// Speaker id (speech; empty for noise).
    pub speaker: String,
}

/// Highest frequency with content, Hz, of the speech sources whose stored rate overstates it, measured by the
/// corpus (`../shared/data/README.md`), by path prefix: the GCompris voices are stored at 44.1 kHz, but home
/// recording and earlier lossy coding cut them off at 15–20 kHz; the Callie prompts reach about 18 kHz.
pub const CONTENT_CUTOFFS_HZ: [(&str, f32); 7] = [
    ("speech/gcompris/en/", 19_000.0),
    ("speech/gcompris/fr/", 17_000.0),
    ("speech/gcompris/ro/", 17_000.0),
    ("speech/gcompris/gd/", 15_000.0),
    ("speech/gcompris/kn/", 15_000.0),
    ("speech/gcompris/zh_TW/", 20_000.0),
    ("speech/callie/", 18_000.0),
];

impl Clip {
    /// Highest frequency with content, Hz: [`Clip::bandwidth_hz`], or lower where the corpus measured a
    /// source's real cut-off ([`CONTENT_CUTOFFS_HZ`]). Does not allocate.
    pub fn content_hz(&self) -> f32 {
        CONTENT_CUTOFFS_HZ
            .iter()
            .find(|(prefix, _)| self.path.starts_with(prefix))
            .map_or(self.bandwidth_hz, |(_, hz)| hz.min(self.bandwidth_hz))
    }

    /// Whether the clip has content above 8 kHz up to at least 15 kHz (full-band speech). Does not allocate.
    pub fn is_full_band(&self) -> bool {
        self.content_hz() >= 15_000.0
    }
}

/// Decodes and resamples `entries` (relative to `root`) on `threads` threads, calling `progress` after each.
pub fn load(
    root: &Path,
    entries: &[Entry],
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Clip>> {
    let chunks: Vec<&[Entry]> = entries
        .chunks(entries.len().div_ceil(threads.max(1)).max(1))
        .collect();
    let results: Vec<Result<Vec<Clip>>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|e| {
                            let path: PathBuf = root.join(&e.path);
                            let (x, rate) = decode(&path)?;
                            progress();
                            Ok(Clip {
                                samples: resample(&x, rate, RATE),
                                bandwidth_hz: e.stored_rate.min(rate) as f32 / 2.0,
                                path: e.path.clone(),
                                category: e.category.clone(),
                                speaker: e.speaker.clone(),
                            })
                        })
                        .collect::<Result<Vec<Clip>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("loader thread panicked"))
            .collect()
    });
    let mut out = Vec::with_capacity(entries.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}
