//! Processing one file: stream it through the engine, remove the engine's latency, flush its tail, and write
//! an output of exactly the input's length, rate and channel count.

use crate::audio_io::{self, OutputBits, WavSink};
use anyhow::{bail, Context, Result};
use quell_dsp::engine::MAX_CHANNELS;
use quell_dsp::neural::{ModelWeights, NeuralMask};
use quell_dsp::{Engine, EngineConfig, MaskMode};
use std::path::Path;
use std::sync::Arc;

/// How every file of a run is processed (the command line's options).
#[derive(Clone)]
pub struct Settings {
    /// Mode, reduction and gate, as the engine takes them (the gate acts in neural mode only).
    pub engine: quell_dsp::Settings,
    /// The network for neural mode.
    pub model: Option<Arc<ModelWeights>>,
    /// Output sample format.
    pub bits: OutputBits,
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
    /// Output samples limited to full scale (integer output only).
    pub clipped: u64,
    /// Output peak, linear.
    pub peak: f32,
    /// Input samples that were NaN or infinite (processed as silence).
    pub non_finite: u64,
}

/// Processes `input` into a new WAV file at `output`. `progress` is called with the number of frames just
/// consumed. Allocates (this is not real-time code).
pub fn process_file(
    input: &Path,
    output: &Path,
    settings: &Settings,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report> {
    let mut source = audio_io::open(input)?;
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

    let mut sink = WavSink::create(output, info.sample_rate, channels, settings.bits)?;
    let mut planar: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut chunk = Vec::new();
    let mut out = Vec::new();
    let mut report = Report {
        sample_rate: info.sample_rate,
        channels,
        format: info.format.clone(),
        ..Report::default()
    };
    // Output frames still to drop: the engine's delay.
    let mut skip = latency;
    let mut frames_in = 0u64;
    let mut run = |chunk: &[f32], skip: &mut usize, report: &mut Report| -> Result<()> {
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
        sink.write(&out)
    };
    loop {
        source
            .next_chunk(&mut chunk)
            .context("cannot read the input")?;
        if chunk.is_empty() {
            break;
        }
        report.non_finite += chunk.iter().filter(|x| !x.is_finite()).count() as u64;
        let frames = (chunk.len() / channels) as u64;
        frames_in += frames;
        run(&chunk, &mut skip, &mut report)?;
        progress(frames);
    }
    if frames_in == 0 {
        bail!("the file contains no audio (0 samples)");
    }
    if let Some(declared) = info.frames {
        if declared != frames_in {
            bail!("the header declares {declared} frames but the file holds {frames_in} (truncated or damaged)");
        }
    }
    // Flush: push the engine's delay worth of silence so the last input samples come out.
    let zeros = vec![0.0; latency * channels];
    run(&zeros, &mut skip, &mut report)?;
    debug_assert_eq!(report.frames, frames_in);
    report.clipped = sink.clipped;
    report.peak = sink.peak;
    sink.finalize()?;
    Ok(report)
}
