//! Processing one file: stream it through the engine, remove the engine's latency, flush its tail, and write
//! an output of exactly the input's length, rate and channel count (and, if asked, the removed part).

use crate::input::{self, Damage, InputInfo, InputKind, InputPath, SampleKind};
use crate::output::{self, Container, OutSample, OutputFormat, Target};
use anyhow::{bail, Context, Result};
use quell_dsp::engine::MAX_CHANNELS;
use quell_dsp::neural::{ModelWeights, NeuralMask};
use quell_dsp::{Engine, EngineConfig, MaskMode};
use std::collections::VecDeque;
use std::sync::Arc;

/// How every file of a run is processed (the command line's options).
#[derive(Clone)]
pub struct Settings {
    /// Mode, reduction and gate, as the engine takes them (the gate acts in neural mode only).
    pub engine: quell_dsp::Settings,
    /// The network for neural mode.
    pub model: Option<Arc<ModelWeights>>,
    /// The output sample format the user asked for (`None`: from the input, see [`output_format`]).
    pub sample: Option<OutSample>,
    /// Write the readable part of a damaged input instead of refusing it.
    pub salvage: bool,
}

/// What happened to one file.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Frames (samples per channel) written; equal to the input's.
    pub frames: u64,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channels.
    pub channels: usize,
    /// The input's format description.
    pub format: String,
    /// The output's format description.
    pub output_format: String,
    /// Output samples limited to full scale (integer output only).
    pub clipped: u64,
    /// Output peak, linear.
    pub peak: f32,
    /// Input samples that were NaN or infinite (processed as silence).
    pub non_finite: u64,
    /// Set when a damaged input was salvaged: what was wrong and how much was kept.
    pub salvaged: Option<String>,
}

/// The error of a run stopped by Ctrl-C or a termination signal.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Rounds a bit depth up to a WAV container size (8, 16, 24 or 32).
fn wav_bits(bits: u32) -> u32 {
    match bits {
        0..=8 => 8,
        9..=16 => 16,
        17..=24 => 24,
        _ => 32,
    }
}

/// The output's sample format: what the user asked for, else the input's own (lossless integer: its bit
/// depth; float and lossy: 32-bit float WAV, 24-bit FLAC). TPDF dither is used when integer output of 16 bits
/// or fewer is shorter than the input's words.
pub fn output_format(
    info: &InputInfo,
    container: Container,
    asked: Option<OutSample>,
) -> Result<OutputFormat> {
    let sample = match (asked, info.sample, container) {
        (Some(s), _, _) => s,
        (None, SampleKind::Int(b), Container::Wav) => OutSample::Int(wav_bits(b)),
        (None, SampleKind::Int(b), Container::Flac) => {
            if b > 24 {
                bail!(
                    "FLAC output holds at most 24 bits and this input has {b}: use --format wav, or --bits 24"
                );
            }
            OutSample::Int(b.max(8))
        }
        (None, _, Container::Wav) => OutSample::Float32,
        (None, _, Container::Flac) => OutSample::Int(24),
    };
    if container == Container::Flac && sample == OutSample::Float32 {
        bail!("FLAC holds integer samples only: use --bits 16 or 24 with FLAC output, or --format wav");
    }
    let dither = match (sample, info.sample) {
        (OutSample::Int(ob), SampleKind::Int(ib)) => ob <= 16 && ib > ob,
        (OutSample::Int(ob), _) => ob <= 16,
        (OutSample::Float32, _) => false,
    };
    Ok(OutputFormat {
        container,
        sample,
        dither,
    })
}

/// The default output container for an input family: FLAC stays FLAC, everything else becomes WAV.
pub fn default_container(kind: InputKind) -> Container {
    match kind {
        InputKind::Flac => Container::Flac,
        InputKind::Wav | InputKind::Other => Container::Wav,
    }
}

fn seconds(frames: u64, rate: u32) -> f64 {
    frames as f64 / f64::from(rate.max(1))
}

/// Processes `input` into `output` (and the removed part into `noise`), in the `container` given. `progress`
/// is called with the number of frames just consumed; `stop` is polled once per chunk. The sinks are
/// finished (and synced) only if the whole input was read, or a damaged input is salvaged. Allocates (this is
/// not real-time code).
pub fn process(
    input: &InputPath,
    output: &Target,
    noise: Option<&Target>,
    container: Container,
    settings: &Settings,
    progress: &(dyn Fn(u64) + Sync),
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Report> {
    let mut source = input::open(input)?;
    let info = source.info().clone();
    if info.frames == Some(0) {
        bail!("the file contains no audio (0 samples)");
    }
    if info.channels > MAX_CHANNELS {
        bail!(
            "{} channels: at most {MAX_CHANNELS} are supported",
            info.channels
        );
    }
    let channels = info.channels;
    let mut engine = Engine::new(EngineConfig {
        sample_rate: info.sample_rate as f32,
        channels,
    })
    .with_context(|| format!("cannot process audio at {} Hz", info.sample_rate))?;
    engine.set_settings(&settings.engine);
    if settings.engine.mode == MaskMode::Neural {
        let weights = settings
            .model
            .as_ref()
            .context("neural mode without a model")?;
        engine.set_model(Some(NeuralMask::new(weights)));
    }
    let latency = engine.latency_samples();
    let format = output_format(&info, container, settings.sample)?;
    // Broadcast-WAV chunks are kept from a WAV input to a WAV output (the output is sample-aligned with the
    // input, so the bext time reference stays right).
    let metadata: &[([u8; 4], Vec<u8>)] = if container == Container::Wav {
        &info.metadata
    } else {
        &[]
    };
    let mut sink = output::create(output, format, info.sample_rate, channels, metadata, 1)?;
    let mut noise_sink = match noise {
        Some(t) => Some(output::create(
            t,
            format,
            info.sample_rate,
            channels,
            metadata,
            2,
        )?),
        None => None,
    };

    let mut planar: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut chunk = Vec::new();
    let mut out = Vec::new();
    let mut removed = Vec::new();
    // The input, delayed to line up with the output, for the removed part.
    let mut delayed: VecDeque<f32> = VecDeque::new();
    let mut report = Report {
        sample_rate: info.sample_rate,
        channels,
        format: info.format.clone(),
        output_format: format.describe(),
        ..Report::default()
    };
    // Output frames still to drop: the engine's delay.
    let mut skip = latency;
    let mut frames_in = 0u64;
    let mut run =
        |chunk: &[f32], input_part: &[f32], skip: &mut usize, report: &mut Report| -> Result<()> {
            let frames = chunk.len() / channels;
            for (c, p) in planar.iter_mut().enumerate() {
                p.clear();
                p.extend(chunk.iter().skip(c).step_by(channels));
            }
            let mut slices: Vec<&mut [f32]> = planar.iter_mut().map(|p| &mut p[..]).collect();
            engine.process(&mut slices);
            let drop = (*skip).min(frames);
            *skip -= drop;
            out.clear();
            for i in drop..frames {
                for p in &planar {
                    out.push(p[i]);
                }
            }
            report.frames += (frames - drop) as u64;
            sink.write(&out)?;
            if let Some(n) = &mut noise_sink {
                delayed.extend(input_part);
                removed.clear();
                for &y in &out {
                    let x = delayed.pop_front().unwrap_or(0.0);
                    let x = if x.is_finite() { x } else { 0.0 };
                    removed.push(x - y);
                }
                n.write(&removed)?;
            }
            Ok(())
        };
    let mut damage: Option<String> = None;
    loop {
        if stop() {
            return Err(Interrupted.into());
        }
        match source.next_chunk(&mut chunk) {
            Ok(()) => {}
            Err(e) => match e.downcast_ref::<Damage>() {
                Some(d) => {
                    damage = Some(d.0.clone());
                    // Whatever the source returned before the damage is good; this chunk is empty or holds
                    // the last whole frames.
                }
                None => return Err(e.context("cannot read the input")),
            },
        }
        if chunk.is_empty() {
            break;
        }
        report.non_finite += chunk.iter().filter(|x| !x.is_finite()).count() as u64;
        let frames = (chunk.len() / channels) as u64;
        frames_in += frames;
        run(&chunk, &chunk, &mut skip, &mut report)?;
        progress(frames);
        if damage.is_some() {
            break;
        }
    }
    if let Some(why) = damage {
        let rate = info.sample_rate;
        let of = match info.frames {
            Some(n) if n > frames_in => format!(" of {:.1} s", seconds(n, rate)),
            _ => String::new(),
        };
        let what = format!(
            "damaged {} data after {:.1} s{of}: {why}",
            info.container,
            seconds(frames_in, rate)
        );
        if !settings.salvage {
            bail!("{what}; use --salvage to write the readable part");
        }
        report.salvaged = Some(what);
    }
    if frames_in == 0 {
        bail!("the file contains no audio (0 samples)");
    }
    // Flush: push the engine's delay worth of silence so the last input samples come out.
    let zeros = vec![0.0; latency * channels];
    run(&zeros, &[], &mut skip, &mut report)?;
    debug_assert_eq!(report.frames, frames_in);
    let stats = sink.stats();
    report.clipped = stats.clipped;
    report.peak = stats.peak;
    if stop() {
        return Err(Interrupted.into());
    }
    sink.finish()?;
    if let Some(n) = noise_sink {
        n.finish()?;
    }
    Ok(report)
}
