//! `quell`: noise suppression for audio files.
//!
//! ```text
//! quell interview.wav -o interview-clean.wav
//! quell episodes/*.flac --out-dir cleaned/ --reduction 24
//! ```
//!
//! Reads WAV (8/16/24/32-bit integer, 32-bit float) and FLAC at any supported rate (8 to 384 kHz) and channel
//! count (up to 32); writes WAV of the same rate, channel count and length, sample-aligned with the input (the
//! engine's 20 ms latency is removed and its tail flushed). Files of a batch are processed in parallel; a
//! failed file does not stop the others and is reported at the end (exit status 1).

mod audio_io;
mod job;

use anyhow::{bail, Context, Result};
use audio_io::OutputBits;
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use job::Report;
use quell_dsp::neural::{self, ModelWeights};
use quell_dsp::{MaskMode, Settings, VadGate};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// The neural network (default).
    Neural,
    /// The classic statistical suppressor (MCRA noise tracker, MMSE-LSA gains).
    Classic,
}

impl Mode {
    /// The engine's default mode, as a command-line value.
    const DEFAULT: Mode = match Settings::DEFAULT_MODE {
        MaskMode::Classic => Mode::Classic,
        _ => Mode::Neural,
    };

    fn mask_mode(self) -> MaskMode {
        match self {
            Mode::Neural => MaskMode::Neural,
            Mode::Classic => MaskMode::Classic,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Bits {
    /// 16-bit integer.
    #[value(name = "16")]
    Int16,
    /// 24-bit integer.
    #[value(name = "24")]
    Int24,
    /// 32-bit float.
    #[value(name = "32")]
    Float32,
}

#[derive(Parser, Debug)]
#[command(
    name = "quell",
    version,
    about = "Real-time-grade voice noise suppression for audio files",
    long_about = "Removes background noise from speech recordings. Output is WAV with the input's rate, \
channels and length, sample-aligned with the input. Inputs are never overwritten; an existing output is only \
replaced with --force."
)]
struct Args {
    /// Input files (WAV or FLAC).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input only).
    #[arg(short, long, conflicts_with = "out_dir")]
    output: Option<PathBuf>,
    /// Output directory for one or more inputs; each output is named after its input, with extension .wav.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Maximum noise reduction (suppression strength), dB, 0 to 60. 0 leaves the audio untouched.
    #[arg(long, default_value_t = Settings::REDUCTION_DB.default, value_name = "DB")]
    reduction: f32,
    /// Mask source.
    #[arg(long, value_enum, default_value_t = Mode::DEFAULT)]
    mode: Mode,
    /// Enable the voice-activity gate: attenuate stretches whose speech probability (0 to 1) stays below
    /// THRESHOLD (0.8 is a good start: the network reads 0.3-0.6 in noise between words). Neural mode only; the
    /// gate never attenuates more than --reduction.
    #[arg(long, value_name = "THRESHOLD")]
    gate: Option<f32>,
    /// How long the gate stays open after speech, milliseconds (0 to 1000).
    #[arg(long, value_name = "MS", default_value_t = Settings::GATE_HOLD_MS.default, requires = "gate")]
    hold: f32,
    /// A model file to use instead of the built-in one (safetensors, see docs/model.md).
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Output sample format: 32 (float, default), 24 or 16 (integer; samples beyond full scale are clipped
    /// and reported).
    #[arg(long, value_enum, default_value_t = Bits::Float32)]
    bits: Bits,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Files processed at once (default: the number of CPU cores).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("quell: error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Where one input goes, or why it cannot.
struct Plan {
    /// Position on the command line.
    index: usize,
    input: PathBuf,
    output: PathBuf,
}

/// Runs the whole batch; returns the number of failed files.
fn run(args: &Args) -> Result<usize> {
    let settings = settings(args)?;
    let (plans, mut failures) = plan(args)?;
    let total_frames: u64 = plans
        .iter()
        .map(|p| {
            audio_io::open(&p.input)
                .ok()
                .and_then(|s| s.info().frames)
                .unwrap_or(0)
        })
        .sum();
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total_frames), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(total_frames)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let n_files = plans.len() + failures.len();
    bar.set_message(format!("0/{n_files} files"));

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Report>)>> = Mutex::new(Vec::new());
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, plans.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(plan) = plans.get(i) else { break };
                let result = process_one(plan, &settings, &bar);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(format!("{finished}/{} files", plans.len()));
                if let Ok(mut r) = results.lock() {
                    r.push((i, result));
                }
            });
        }
    });
    bar.finish_and_clear();

    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let mut audio_seconds = 0.0;
    let mut ok = 0;
    for (i, result) in results {
        let plan = &plans[i];
        match result {
            Ok(report) => {
                ok += 1;
                audio_seconds += report.frames as f64 / f64::from(report.sample_rate);
                if !args.quiet {
                    println!(
                        "{} -> {} ({}, {} Hz, {} ch, {:.1} s)",
                        plan.input.display(),
                        plan.output.display(),
                        report.format,
                        report.sample_rate,
                        report.channels,
                        report.frames as f64 / f64::from(report.sample_rate)
                    );
                }
                if report.non_finite > 0 {
                    eprintln!(
                        "quell: warning: {}: {} NaN or infinite input samples were processed as silence",
                        plan.input.display(),
                        report.non_finite
                    );
                }
                if report.clipped > 0 {
                    eprintln!(
                        "quell: warning: {}: {} output samples exceeded full scale (peak {:+.1} dBFS) and were \
                         clipped; use --bits 32 to keep them",
                        plan.output.display(),
                        report.clipped,
                        20.0 * report.peak.log10()
                    );
                }
            }
            Err(e) => failures.push((plan.index, plan.input.clone(), e)),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if !args.quiet && ok > 0 {
        println!(
            "{ok} file(s), {:.1} min of audio in {elapsed:.1} s ({:.0}x real time)",
            audio_seconds / 60.0,
            audio_seconds / elapsed.max(1e-9)
        );
    }
    if !failures.is_empty() {
        failures.sort_by_key(|(i, _, _)| *i);
        eprintln!("quell: {} of {n_files} file(s) failed:", failures.len());
        for (_, input, e) in &failures {
            eprintln!("  {}: {e:#}", input.display());
        }
    }
    Ok(failures.len())
}

/// Processes one file into a temporary file beside the output, renamed into place only when complete, so a
/// failure never leaves a partial output or destroys an existing one.
fn process_one(plan: &Plan, settings: &job::Settings, bar: &ProgressBar) -> Result<Report> {
    let dir = plan.output.parent().unwrap_or(Path::new("."));
    let name = plan
        .output
        .file_name()
        .context("the output path has no file name")?;
    let tmp = dir.join(format!(
        ".{}.quell-partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = job::process_file(&plan.input, &tmp, settings, &|frames| bar.inc(frames));
    match result {
        Ok(report) => {
            std::fs::rename(&tmp, &plan.output)
                .with_context(|| format!("cannot move the result to {}", plan.output.display()))?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn settings(args: &Args) -> Result<job::Settings> {
    let range = Settings::REDUCTION_DB;
    if !range.contains(args.reduction) {
        bail!(
            "--reduction must be between {} and {} dB",
            range.min,
            range.max
        );
    }
    let mode = args.mode.mask_mode();
    let gate = match args.gate {
        Some(threshold) => {
            if mode != MaskMode::Neural {
                bail!("--gate needs --mode neural (the speech probability comes from the network)");
            }
            let range = Settings::GATE_THRESHOLD;
            if !range.contains(threshold) {
                bail!(
                    "--gate THRESHOLD must be between {} and {}",
                    range.min,
                    range.max
                );
            }
            let range = Settings::GATE_HOLD_MS;
            if !range.contains(args.hold) {
                bail!("--hold must be between {} and {} ms", range.min, range.max);
            }
            VadGate {
                enabled: true,
                threshold,
                hold_ms: args.hold,
            }
        }
        None => VadGate::default(),
    };
    let model = match (&args.model, mode) {
        (Some(path), _) => Some(Arc::new(ModelWeights::from_file(path).with_context(|| {
            format!("cannot load the model {}", path.display())
        })?)),
        (None, MaskMode::Neural) => match neural::shipped_weights() {
            Some(w) => Some(Arc::new(w.context("the built-in model is damaged")?)),
            None => bail!(
                "this build has no built-in model (assets/model/quell.safetensors); pass --model PATH or \
                 --mode classic"
            ),
        },
        (None, _) => None,
    };
    if args.model.is_some() && mode != MaskMode::Neural {
        bail!("--model needs --mode neural");
    }
    let bits = match args.bits {
        Bits::Int16 => OutputBits::Int16,
        Bits::Int24 => OutputBits::Int24,
        Bits::Float32 => OutputBits::Float32,
    };
    Ok(job::Settings {
        engine: Settings {
            reduction_db: args.reduction,
            mode,
            gate,
        },
        model,
        bits,
    })
}

/// Decides every output path and rejects, per file, what must not run: a missing input, an output that is an
/// input, an existing output without `--force`, two inputs writing the same output.
#[allow(clippy::type_complexity)]
fn plan(args: &Args) -> Result<(Vec<Plan>, Vec<(usize, PathBuf, anyhow::Error)>)> {
    let outputs: Vec<PathBuf> = match (&args.output, &args.out_dir) {
        (Some(out), None) => {
            if args.inputs.len() != 1 {
                bail!("-o/--output takes one input; use --out-dir DIR for several");
            }
            let ext = out
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if NOT_WRITTEN.contains(&ext.as_str()) {
                bail!(
                    "{}: quell writes WAV only (it would be WAV data under a .{ext} name); name the output .wav",
                    out.display()
                );
            }
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the output directory {}", dir.display())
                })?;
            }
            vec![out.clone()]
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
            args.inputs
                .iter()
                .map(|input| dir.join(output_name(input)))
                .collect()
        }
        (None, None) => bail!("say where the output goes: -o FILE or --out-dir DIR"),
        (Some(_), Some(_)) => bail!("-o and --out-dir cannot be used together"),
    };
    let inputs: Vec<Option<PathBuf>> = args
        .inputs
        .iter()
        .map(|p| std::fs::canonicalize(p).ok())
        .collect();
    // Inputs that would write the same output are all refused, before anything is processed.
    let mut writers: HashMap<PathBuf, Vec<&Path>> = HashMap::new();
    for (input, output) in args.inputs.iter().zip(&outputs) {
        if let Ok(out_abs) = absolute(output) {
            writers.entry(out_abs).or_default().push(input);
        }
    }
    let mut plans = Vec::new();
    let mut failures = Vec::new();
    for (index, (input, output)) in args.inputs.iter().zip(outputs).enumerate() {
        let check = || -> Result<()> {
            if !input.exists() {
                bail!("no such file");
            }
            if input.is_dir() {
                bail!("is a directory, not an audio file");
            }
            let out_abs = absolute(&output)?;
            if inputs.iter().flatten().any(|i| *i == out_abs) {
                bail!(
                    "the output {} is an input file; refusing to overwrite an input",
                    output.display()
                );
            }
            if output.exists() && !args.force {
                bail!(
                    "the output {} already exists (use --force to replace it)",
                    output.display()
                );
            }
            if let Some(all) = writers.get(&out_abs).filter(|w| w.len() > 1) {
                let names: Vec<String> = all.iter().map(|p| p.display().to_string()).collect();
                bail!(
                    "{} would all write {}; nothing of them was processed (rename one, or use -o per file)",
                    names.join(" and "),
                    output.display()
                );
            }
            Ok(())
        };
        match check() {
            Ok(()) => plans.push(Plan {
                index,
                input: input.clone(),
                output,
            }),
            Err(e) => failures.push((index, input.clone(), e)),
        }
    }
    Ok((plans, failures))
}

/// Output extensions of formats that `quell` does not write: refused rather than filled with WAV data.
const NOT_WRITTEN: [&str; 10] = [
    "flac", "mp3", "ogg", "oga", "opus", "m4a", "aac", "aif", "aiff", "w64",
];

/// The output file name for `input` in an output directory: the input's whole name with its last extension
/// replaced by `.wav` (`ep.01.flac` → `ep.01.wav`, `2024.05.01 interview.flac` → `2024.05.01 interview.wav`).
fn output_name(input: &Path) -> std::ffi::OsString {
    let mut name = input
        .file_stem()
        .unwrap_or(input.as_os_str())
        .to_os_string();
    name.push(".wav");
    name
}

/// The absolute, symlink-resolved form of a path that may not exist yet (its directory must).
fn absolute(path: &Path) -> Result<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Ok(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(parent)
        .with_context(|| format!("the output directory {} does not exist", parent.display()))?;
    Ok(dir.join(
        path.file_name()
            .context("the output path has no file name")?,
    ))
}
