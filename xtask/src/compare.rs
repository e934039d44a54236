//! `cargo xtask compare BASE.csv NEW.csv --pairs DIR`: what a change did, file by file. Reads the per-file CSVs
//! of two `cargo xtask eval` runs over the same pairs and prints, for one system (Quell neural by default), the
//! mean per-file difference NEW − BASE of PESQ-WB, STOI and SI-SDR gain with a bootstrap 95 % interval: over all
//! files, then per noise category, typing source, SNR, room condition, speech group and voice corpus (from
//! `DIR/pairs.csv`).
//!
//! A change can gain on the mean and lose where the mean does not look: at low SNR, in one kind of noise or
//! voice. Every group whose interval lies wholly below zero is listed at the end, so such a loss is not missed.
//! Groups are small (24 files per category or SNR in a half), so their intervals are wide; a group flagged here
//! is a reason to look, not a verdict.

use crate::eval::{group_by, pair_infos, snr_of, PairInfo};
use crate::stats::bootstrap_mean;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Options of `cargo xtask compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Per-file CSV of the baseline run (`cargo xtask eval --csv`).
    pub base: PathBuf,
    /// Per-file CSV of the run with the change, over the same pairs.
    pub new: PathBuf,
    /// Folder of the pairs both runs scored; its `pairs.csv` gives the groups (without it, only SNR groups from
    /// the file names).
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// System whose rows are compared (as in the CSV's `system` column).
    #[arg(long, default_value = "Quell neural")]
    pub system: String,
    /// Bootstrap resamples per interval.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
}

/// The metrics compared, as the eval CSV names them, and how they are printed.
const METRICS: [(&str, &str, usize); 3] = [
    ("pesq_wb", "PESQ-WB", 3),
    ("stoi", "STOI", 4),
    ("si_sdr_gain_db", "SI-SDR gain (dB)", 2),
];

/// One file's metrics, in the order of [`METRICS`] (`None` where the CSV cell is empty).
type Row = [Option<f64>; 3];

/// Reads the rows of `system` from an eval CSV: file name → metrics. Allocates.
fn load(path: &Path, system: &str) -> Result<HashMap<String, Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).with_context(|| {
            format!(
                "{}: no `{name}` column (is it a `cargo xtask eval --csv` file?)",
                path.display()
            )
        })
    };
    let (c_file, c_system) = (col("file")?, col("system")?);
    let c_metrics = METRICS.map(|(name, _, _)| col(name));
    let mut rows = HashMap::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            bail!(
                "{} line {}: {} cells, the header has {}",
                path.display(),
                i + 2,
                cells.len(),
                header.len()
            );
        }
        if cells[c_system] != system {
            continue;
        }
        let mut row: Row = [None; 3];
        for (slot, c) in row.iter_mut().zip(&c_metrics) {
            let Ok(c) = c else { continue };
            let cell = cells[*c];
            if !cell.is_empty() {
                let v: f64 = cell.parse().with_context(|| {
                    format!(
                        "{} line {}: `{cell}` is not a number",
                        path.display(),
                        i + 2
                    )
                })?;
                *slot = v.is_finite().then_some(v);
            }
        }
        rows.insert(cells[c_file].to_string(), row);
    }
    Ok(rows)
}

/// One group's paired differences: per metric, mean and bootstrap 95 % interval (`None` if no file has it).
#[derive(Debug, Clone)]
struct GroupDiff {
    label: String,
    files: usize,
    diffs: [Option<(f64, f64, f64)>; 3],
}

/// The groups of files: all, then per category, typing source, SNR, room, speech group and voice corpus ([`group_by`]'s
/// order). Kinds with a single key (e.g. one voice corpus in every pair) are left out. Allocates.
fn groups(files: &[String], infos: &HashMap<String, PairInfo>) -> Vec<(String, Vec<String>)> {
    let none = PairInfo::default();
    let info = |f: &String| infos.get(f).unwrap_or(&none);
    type Key = fn(&String, &PairInfo) -> Option<String>;
    // Kind, unit after the key, key.
    let kinds: [(&str, &str, Key); 6] = [
        ("category", "", |_, i| i.category.clone()),
        ("typing", "", |_, i| i.typing.clone()),
        ("SNR", " dB", |f, _| snr_of(f).map(|s| format!("{s:+03}"))),
        ("room", "", |_, i| i.room_label()),
        ("speech", "", |_, i| i.speech.clone()),
        ("voice", "", |_, i| i.voice.clone()),
    ];
    let mut out = vec![("all".to_string(), files.to_vec())];
    for (kind, unit, key) in kinds {
        let by = group_by(files, |f| key(f, info(f)));
        if by.len() < 2 {
            continue;
        }
        out.extend(by.into_iter().map(|(k, members)| {
            (
                format!("{kind} {k}{unit}"),
                members.into_iter().cloned().collect(),
            )
        }));
    }
    out
}

/// Paired differences new − base over each group. Allocates.
fn paired(
    base: &HashMap<String, Row>,
    new: &HashMap<String, Row>,
    groups: &[(String, Vec<String>)],
    resamples: usize,
) -> Vec<GroupDiff> {
    groups
        .iter()
        .enumerate()
        .map(|(g, (label, members))| {
            let diffs = std::array::from_fn(|m| {
                let d: Vec<f64> = members
                    .iter()
                    .filter_map(|f| Some(new.get(f)?[m]? - base.get(f)?[m]?))
                    .collect();
                bootstrap_mean(&d, resamples, 0x5eed + (g * 3 + m) as u64)
            });
            GroupDiff {
                label: label.clone(),
                files: members.len(),
                diffs,
            }
        })
        .collect()
}

fn cell(d: Option<(f64, f64, f64)>, digits: usize) -> String {
    match d {
        None => "–".to_string(),
        Some((m, lo, hi)) => {
            let mark = if hi < 0.0 {
                " ▼"
            } else if lo > 0.0 {
                " ▲"
            } else {
                ""
            };
            format!("{m:+.digits$} [{lo:+.digits$}, {hi:+.digits$}]{mark}")
        }
    }
}

/// Runs `cargo xtask compare`.
pub fn run(args: &CompareArgs) -> Result<()> {
    let base = load(&args.base, &args.system)?;
    let new = load(&args.new, &args.system)?;
    let mut files: Vec<String> = base
        .keys()
        .filter(|f| new.contains_key(*f))
        .cloned()
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "no file has a `{}` row in both {} and {}",
            args.system,
            args.base.display(),
            args.new.display()
        );
    }
    let unmatched = base.len() + new.len() - 2 * files.len();
    let infos = args.pairs.as_deref().map(pair_infos).unwrap_or_default();
    let result = paired(&base, &new, &groups(&files, &infos), args.resamples);

    println!(
        "{}: {} minus {}, mean per-file difference [bootstrap 95 % interval]; ▼ / ▲: the interval lies below / above zero",
        args.system,
        args.new.display(),
        args.base.display()
    );
    if unmatched > 0 {
        println!("({unmatched} rows in only one of the two files left out)");
    }
    println!();
    print!("| group | files |");
    for (_, title, _) in METRICS {
        print!(" {title} |");
    }
    println!();
    println!("|---|---|{}", "---|".repeat(METRICS.len()));
    for g in &result {
        print!("| {} | {} |", g.label, g.files);
        for (d, (_, _, digits)) in g.diffs.iter().zip(METRICS) {
            print!(" {} |", cell(*d, digits));
        }
        println!();
    }
    println!();
    for (m, (_, title, _)) in METRICS.iter().enumerate() {
        let worse: Vec<&str> = result
            .iter()
            .filter(|g| g.diffs[m].is_some_and(|(_, _, hi)| hi < 0.0))
            .map(|g| g.label.as_str())
            .collect();
        println!(
            "{title} worse (interval below zero): {}",
            if worse.is_empty() {
                "none".to_string()
            } else {
                worse.join(", ")
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "file,system,seconds,pesq_wb,stoi,si_sdr_db,si_sdr_gain_db,hf_speech_gain_db,hf_noise_db,clean_si_sdr_db,clean_level_db,rtf";

    fn write(dir: &Path, name: &str, rows: &[(String, f64, f64)]) -> PathBuf {
        let mut text = format!("{HEADER}\n");
        for (file, pesq, stoi) in rows {
            // A peer row beside every Quell row: it must not be mixed in.
            text += &format!("{file},RNNoise 0.2 (pyrnnoise),4.000,9.0,0.1,0,0,,,0,0,0\n");
            text += &format!("{file},Quell neural,4.000,{pesq},{stoi},0,1.5,,,0,0,0\n");
        }
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A change that helps typing and costs every other category a little STOI: the mean hides the cost, the
    /// groups show both, and the pairs.csv groups are read.
    #[test]
    fn a_loss_the_mean_hides_shows_in_its_groups() {
        let dir = std::env::temp_dir().join(format!("quell-compare-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut pairs =
            String::from("name,half,speech,category,room,rt60_s,snr_db,speakers,noise\n");
        let (mut base, mut new) = (Vec::new(), Vec::new());
        for i in 0..48 {
            let cat = if i % 2 == 0 { "typing" } else { "babble" };
            let snr = [-5, 0, 5, 10][i % 4];
            let name = format!("nb-{i:03}-{cat}-dry-snr{snr:+03}.wav");
            let room = i % 3 == 0;
            // Typing from key clips in every fourth pair, from a recording in the other typing pairs.
            let noise = if i % 4 == 0 {
                "key clips at 6.0/s"
            } else {
                "noise/x.ogg"
            };
            pairs += &format!("{name},tuning,nb,{cat},{room},,{snr},so762_{i:04},{noise}\n");
            let wobble = (i % 5) as f64 * 1e-3;
            base.push((name.clone(), 2.0, 0.8));
            let dstoi = if cat == "typing" { 0.02 } else { -0.01 };
            new.push((name, 2.0 + wobble, 0.8 + dstoi + wobble));
        }
        std::fs::write(dir.join("pairs.csv"), pairs).unwrap();
        let base_csv = write(&dir, "base.csv", &base);
        let new_csv = write(&dir, "new.csv", &new);

        let a = load(&base_csv, "Quell neural").unwrap();
        let b = load(&new_csv, "Quell neural").unwrap();
        assert_eq!(a.len(), 48);
        assert_eq!(
            a.values().next().unwrap()[0],
            Some(2.0),
            "the peer rows were mixed in"
        );
        let mut files: Vec<String> = a.keys().cloned().collect();
        files.sort();
        let groups = groups(&files, &pair_infos(&dir));
        let result = paired(&a, &b, &groups, 500);
        let find = |label: &str| {
            result
                .iter()
                .find(|g| g.label == label)
                .unwrap_or_else(|| panic!("no {label}"))
        };
        let stoi = |label: &str| find(label).diffs[1].unwrap();

        let expected = new.iter().zip(&base).map(|(n, b)| n.2 - b.2).sum::<f64>() / 48.0;
        let (all, _, _) = stoi("all");
        assert!(
            (all - expected).abs() < 1e-9,
            "overall {all}, expected {expected}"
        );
        let (typing, lo, _) = stoi("category typing");
        assert!(typing > 0.02 && lo > 0.0);
        let (babble, _, hi) = stoi("category babble");
        assert!(babble < -0.005 && hi < 0.0);
        assert_eq!(find("SNR -05 dB").files, 12);
        let snrs: Vec<&str> = result
            .iter()
            .filter(|g| g.label.starts_with("SNR"))
            .map(|g| g.label.as_str())
            .collect();
        assert_eq!(
            snrs,
            ["SNR -05 dB", "SNR +00 dB", "SNR +05 dB", "SNR +10 dB"]
        );
        // Typing pairs by source; the other categories have none.
        assert_eq!(find("typing key clips").files, 12);
        assert_eq!(find("typing recording").files, 12);
        assert_eq!(find("room dry").files, 32);
        assert_eq!(find("room room").files, 16);
        // One speech group and one voice corpus in every pair: no group of them.
        assert!(result
            .iter()
            .all(|g| !g.label.starts_with("speech") && !g.label.starts_with("voice")));
        // SI-SDR gain is the same in both runs: a zero difference, interval included.
        assert_eq!(find("all").diffs[2], Some((0.0, 0.0, 0.0)));

        run(&CompareArgs {
            base: base_csv,
            new: new_csv,
            pairs: Some(dir.clone()),
            system: "Quell neural".into(),
            resamples: 200,
        })
        .unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn files_that_are_not_eval_csvs_or_share_no_file_are_errors() {
        let dir = std::env::temp_dir().join(format!("quell-compare-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let other = dir.join("other.csv");
        std::fs::write(&other, "name,value\na,1\n").unwrap();
        let err = load(&other, "Quell neural").unwrap_err();
        assert!(format!("{err:#}").contains("no `file` column"), "{err:#}");

        let bad = dir.join("bad.csv");
        std::fs::write(
            &bad,
            format!("{HEADER}\nx.wav,Quell neural,4,abc,0.8,0,0,,,0,0,0\n"),
        )
        .unwrap();
        let err = load(&bad, "Quell neural").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");

        let a = write(&dir, "a.csv", &[("a.wav".into(), 2.0, 0.8)]);
        let b = write(&dir, "b.csv", &[("b.wav".into(), 2.0, 0.8)]);
        let err = run(&CompareArgs {
            base: a,
            new: b,
            pairs: None,
            system: "Quell neural".into(),
            resamples: 10,
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("no file"), "{err:#}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
