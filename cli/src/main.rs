//! `quell`: noise suppression for audio files.
//!
//! ```text
//! quell interview.wav -o interview-clean.wav
//! quell episodes/*.flac --out-dir cleaned/ --reduction 24
//! ffmpeg -i take.mkv -f wav - | quell - -o - > clean.wav
//! ```
//!
//! Reads WAV (also WAVE_FORMAT_EXTENSIBLE, RF64, W64), FLAC, AIFF, CAF, MP3, AAC/M4A, ALAC and Ogg Vorbis at
//! any supported rate (8 to 384 kHz) and channel count (up to 32); writes WAV or FLAC of the same rate, channel
//! count and length, sample-aligned with the input (the engine's 20 ms latency is removed and its tail
//! flushed). Files of a batch are processed in parallel; a failed file does not stop the others and is
//! reported at the end (exit status 1).

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quell_cli::input::{self, InputPath, Sniffed};
use quell_cli::job::{self, Interrupted, Report};
use quell_cli::output::{Container, OutSample, Target};
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
    /// 16-bit integer (TPDF-dithered when the input has longer words).
    #[value(name = "16")]
    Int16,
    /// 24-bit integer.
    #[value(name = "24")]
    Int24,
    /// 32-bit float (WAV only).
    #[value(name = "32")]
    Float32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// WAV (RF64 past 4 GiB).
    Wav,
    /// FLAC (8 to 24 bits, 1 to 8 channels).
    Flac,
}

impl Format {
    fn container(self) -> Container {
        match self {
            Format::Wav => Container::Wav,
            Format::Flac => Container::Flac,
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "quell",
    version,
    about = "Real-time-grade voice noise suppression for audio files",
    long_about = "Removes background noise from speech recordings. Reads WAV (also extensible, RF64 and W64), \
FLAC, AIFF, CAF, MP3, AAC/M4A, ALAC and Ogg Vorbis; `-` reads a WAV stream from standard input. Writes WAV or \
FLAC with the input's rate, channels and length, sample-aligned with the input: by default a lossless input in \
its own format and bit depth (WAV for AIFF, CAF and ALAC), lossy and float inputs as 32-bit float WAV. WAV \
outputs become RF64 past 4 GiB and keep a WAV input's bext, iXML and LIST chunks. A damaged input is refused \
(--salvage writes its readable part). Inputs are never overwritten; an existing output is only replaced with \
--force; Ctrl-C removes unfinished outputs."
)]
struct Args {
    /// Input files, or `-` for a WAV stream on standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input only); `-` writes WAV to standard output. Its extension (.wav or .flac) sets the
    /// format.
    #[arg(short, long, conflicts_with = "out_dir")]
    output: Option<PathBuf>,
    /// Output directory for one or more inputs; each output keeps its input's whole name, with the extension
    /// of the output format.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Output format (default: from the -o extension, else FLAC for FLAC input and WAV for the rest).
    #[arg(long, value_enum)]
    format: Option<Format>,
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
    /// Output sample format: 16 or 24 (integer; samples beyond full scale are clipped and reported) or 32
    /// (float, WAV only). Default: the input's own bit depth for lossless integer input, else 32-bit float
    /// (24-bit for FLAC output).
    #[arg(long, value_enum)]
    bits: Option<Bits>,
    /// Process the readable part of a truncated or damaged input (and say so) instead of refusing it.
    #[arg(long)]
    salvage: bool,
    /// Also write what was removed (the aligned input minus the output) to this file (one input only), in
    /// the output's format.
    #[arg(long, value_name = "PATH", conflicts_with = "noise_out_dir")]
    noise_out: Option<PathBuf>,
    /// Also write what was removed, one file per input named like its output, into this directory.
    #[arg(long, value_name = "DIR")]
    noise_out_dir: Option<PathBuf>,
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
    input::quiet_decoder_panics();
    let _ = quell_cli::interrupt::install();
    let args = Args::parse();
    match run(&args) {
        Ok(_) if quell_cli::interrupt::requested() => {
            eprintln!("quell: interrupted; unfinished outputs were removed");
            std::process::exit(130);
        }
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("quell: error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Where one input goes.
struct Plan {
    /// Position on the command line.
    index: usize,
    input: PathBuf,
    output: PathBuf,
    noise: Option<PathBuf>,
    container: Container,
}

fn input_path(p: &Path) -> InputPath<'_> {
    if input::is_dash(p) {
        InputPath::Stdin
    } else {
        InputPath::File(p)
    }
}

/// Runs the whole batch; returns the number of failed files.
fn run(args: &Args) -> Result<usize> {
    let settings = settings(args)?;
    let (plans, mut failures) = plan(args)?;
    let to_stdout = plans.iter().any(|p| input::is_dash(&p.output));
    // With audio on standard output, every message goes to standard error.
    let say = |line: String| {
        if to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let total_frames: u64 = plans
        .iter()
        .filter(|p| !input::is_dash(&p.input))
        .map(|p| {
            input::open(&InputPath::File(&p.input))
                .ok()
                .and_then(|s| s.info().frames)
                .unwrap_or(0)
        })
        .sum();
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total_frames), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::with_draw_target(Some(total_frames), ProgressDrawTarget::stderr())
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
                if quell_cli::interrupt::requested() {
                    break;
                }
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
                    say(format!(
                        "{} -> {} ({} -> {}, {} Hz, {} ch, {:.1} s)",
                        plan.input.display(),
                        plan.output.display(),
                        report.format,
                        report.output_format,
                        report.sample_rate,
                        report.channels,
                        report.frames as f64 / f64::from(report.sample_rate)
                    ));
                }
                if let Some(what) = &report.salvaged {
                    eprintln!(
                        "quell: warning: {}: {what}; salvaged: the readable part was processed and written to {}",
                        plan.input.display(),
                        plan.output.display()
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
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => {}
            Err(e) => failures.push((plan.index, plan.input.clone(), e)),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if !args.quiet && ok > 0 {
        say(format!(
            "{ok} file(s), {:.1} min of audio in {elapsed:.1} s ({:.0}x real time)",
            audio_seconds / 60.0,
            audio_seconds / elapsed.max(1e-9)
        ));
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

/// A hidden temporary name beside `path`.
fn temp_beside(path: &Path) -> Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("the output path has no file name")?;
    Ok(dir.join(format!(
        ".{}.quell-partial-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Processes one file into temporary files beside the outputs, synced and renamed into place only when
/// complete, so that a failure or an interruption never leaves a partial output or destroys an existing one.
fn process_one(plan: &Plan, settings: &job::Settings, bar: &ProgressBar) -> Result<Report> {
    let stdout = input::is_dash(&plan.output);
    let tmp = if stdout {
        None
    } else {
        Some(temp_beside(&plan.output)?)
    };
    let noise_tmp = match &plan.noise {
        Some(n) => Some(temp_beside(n)?),
        None => None,
    };
    let target = match &tmp {
        Some(t) => Target::File(t.clone()),
        None => Target::Stdout,
    };
    let noise_target = noise_tmp.as_ref().map(|t| Target::File(t.clone()));
    let result = job::process(
        &input_path(&plan.input),
        &target,
        noise_target.as_ref(),
        plan.container,
        settings,
        &|frames| bar.inc(frames),
        &quell_cli::interrupt::requested,
    );
    let cleanup = || {
        for t in tmp.iter().chain(&noise_tmp) {
            let _ = std::fs::remove_file(t);
        }
    };
    match result {
        Ok(report) => {
            let moved = (|| -> Result<()> {
                if let (Some(t), Some(n)) = (&noise_tmp, &plan.noise) {
                    std::fs::rename(t, n).with_context(|| {
                        format!("cannot move the removed part to {}", n.display())
                    })?;
                }
                if let Some(t) = &tmp {
                    std::fs::rename(t, &plan.output).with_context(|| {
                        format!("cannot move the result to {}", plan.output.display())
                    })?;
                    // Make the rename itself durable.
                    if let Some(dir) = plan.output.parent().filter(|d| !d.as_os_str().is_empty()) {
                        if let Ok(d) = std::fs::File::open(dir) {
                            let _ = d.sync_all();
                        }
                    }
                }
                Ok(())
            })();
            if moved.is_err() {
                cleanup();
            }
            moved.map(|()| report)
        }
        Err(e) => {
            cleanup();
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
    let sample = args.bits.map(|b| match b {
        Bits::Int16 => OutSample::Int(16),
        Bits::Int24 => OutSample::Int(24),
        Bits::Float32 => OutSample::Float32,
    });
    Ok(job::Settings {
        engine: Settings {
            reduction_db: args.reduction,
            mode,
            gate,
        },
        model,
        sample,
        salvage: args.salvage,
    })
}

/// The container an input is written in by default: FLAC stays FLAC, the rest becomes WAV.
fn default_container(input: &Path) -> Container {
    if input::is_dash(input) {
        return Container::Wav;
    }
    match input::sniff_file(input) {
        Ok(Sniffed::Flac) => Container::Flac,
        _ => Container::Wav,
    }
}

fn extension(container: Container) -> &'static str {
    match container {
        Container::Wav => "wav",
        Container::Flac => "flac",
    }
}

/// The container an output name asks for, `None` when its extension says nothing; an error for names of
/// formats that are not written.
fn container_of_name(out: &Path) -> Result<Option<Container>> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "wav" | "wave" | "bwf" | "rf64" => Some(Container::Wav),
        "flac" => Some(Container::Flac),
        e if NOT_WRITTEN.contains(&e) => bail!(
            "{}: quell writes WAV and FLAC only (it would be WAV or FLAC data under a .{ext} name); name the \
             output .wav or .flac",
            out.display()
        ),
        _ => None,
    })
}

/// Decides every output path and format, and rejects, per file, what must not run: a missing input, an
/// output that is an input, an existing output without `--force`, two inputs writing the same output.
#[allow(clippy::type_complexity)]
fn plan(args: &Args) -> Result<(Vec<Plan>, Vec<(usize, PathBuf, anyhow::Error)>)> {
    let asked = args.format.map(Format::container);
    let stdin_inputs = args.inputs.iter().filter(|p| input::is_dash(p)).count();
    if stdin_inputs > 1 {
        bail!("`-` (standard input) can be given only once");
    }
    if stdin_inputs == 1 && args.out_dir.is_some() {
        bail!("standard input (`-`) needs -o FILE or -o - rather than --out-dir");
    }
    if args.noise_out.is_some() && args.inputs.len() != 1 {
        bail!("--noise-out takes one input; use --noise-out-dir DIR for several");
    }
    let mut planned: Vec<(PathBuf, Container)> = Vec::new();
    match (&args.output, &args.out_dir) {
        (Some(out), None) => {
            if args.inputs.len() != 1 {
                bail!("-o/--output takes one input; use --out-dir DIR for several");
            }
            let container = if input::is_dash(out) {
                if asked == Some(Container::Flac) {
                    bail!("standard output takes WAV only (FLAC needs a file it can go back into)");
                }
                Container::Wav
            } else {
                match (container_of_name(out)?, asked) {
                    (Some(named), Some(a)) if named != a => bail!(
                        "{}: the name says {} but --format says {}",
                        out.display(),
                        extension(named),
                        extension(a)
                    ),
                    (Some(named), _) => named,
                    (None, Some(a)) => a,
                    (None, None) => default_container(&args.inputs[0]),
                }
            };
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the output directory {}", dir.display())
                })?;
            }
            planned.push((out.clone(), container));
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
            for input in &args.inputs {
                let container = asked.unwrap_or_else(|| default_container(input));
                planned.push((dir.join(output_name(input, container)), container));
            }
        }
        (None, None) => bail!("say where the output goes: -o FILE or --out-dir DIR"),
        (Some(_), Some(_)) => bail!("-o and --out-dir cannot be used together"),
    }
    let noises: Vec<Option<PathBuf>> = match (&args.noise_out, &args.noise_out_dir) {
        (Some(n), _) => {
            if input::is_dash(n) {
                bail!("--noise-out needs a file, not standard output");
            }
            vec![Some(n.clone())]
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
            planned
                .iter()
                .zip(&args.inputs)
                .map(|((out, container), input)| {
                    let name = if input::is_dash(out) {
                        output_name(Path::new("stdin"), *container)
                    } else {
                        out.file_name()
                            .map_or_else(|| output_name(input, *container), |n| n.to_os_string())
                    };
                    Some(dir.join(name))
                })
                .collect()
        }
        (None, None) => vec![None; planned.len()],
    };
    let inputs: Vec<Option<PathBuf>> = args
        .inputs
        .iter()
        .map(|p| std::fs::canonicalize(p).ok())
        .collect();
    // Inputs that would write the same file are all refused, before anything is processed.
    let mut writers: HashMap<PathBuf, Vec<&Path>> = HashMap::new();
    for (input, ((output, _), noise)) in args.inputs.iter().zip(planned.iter().zip(&noises)) {
        for path in std::iter::once(output).chain(noise.iter()) {
            if input::is_dash(path) {
                continue;
            }
            if let Ok(abs) = absolute(path) {
                writers.entry(abs).or_default().push(input);
            }
        }
    }
    let mut plans = Vec::new();
    let mut failures = Vec::new();
    for (index, (input, ((output, container), noise))) in args
        .inputs
        .iter()
        .zip(planned.into_iter().zip(noises))
        .enumerate()
    {
        let check = || -> Result<()> {
            if !input::is_dash(input) {
                if !input.exists() {
                    bail!("no such file");
                }
                if input.is_dir() {
                    bail!("is a directory, not an audio file");
                }
            }
            for path in std::iter::once(&output).chain(noise.iter()) {
                if input::is_dash(path) {
                    continue;
                }
                let out_abs = absolute(path)?;
                if inputs.iter().flatten().any(|i| *i == out_abs) {
                    bail!(
                        "the output {} is an input file; refusing to overwrite an input",
                        path.display()
                    );
                }
                if path.exists() && !args.force {
                    bail!(
                        "the output {} already exists (use --force to replace it)",
                        path.display()
                    );
                }
                if let Some(all) = writers.get(&out_abs).filter(|w| w.len() > 1) {
                    let names: Vec<String> = all.iter().map(|p| p.display().to_string()).collect();
                    bail!(
                        "{} would all write {}; nothing of them was processed (rename one, or use -o per file)",
                        names.join(" and "),
                        path.display()
                    );
                }
            }
            Ok(())
        };
        match check() {
            Ok(()) => plans.push(Plan {
                index,
                input: input.clone(),
                output,
                noise,
                container,
            }),
            Err(e) => failures.push((index, input.clone(), e)),
        }
    }
    Ok((plans, failures))
}

/// Output extensions of formats that `quell` does not write: refused rather than filled with WAV data.
const NOT_WRITTEN: [&str; 12] = [
    "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aac", "aif", "aiff", "aifc", "caf", "w64",
];

/// The output file name for `input` in an output directory: the input's whole name with its last extension
/// replaced by the output format's (`ep.01.flac` → `ep.01.flac`, `2024.05.01 interview.mp3` →
/// `2024.05.01 interview.wav`). Allocates.
fn output_name(input: &Path, container: Container) -> std::ffi::OsString {
    let mut name = input
        .file_stem()
        .unwrap_or(input.as_os_str())
        .to_os_string();
    name.push(".");
    name.push(extension(container));
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
