//! The streaming processor: any block size, any channel count, exact latency, no allocation while processing.
//!
//! ## Signal path of one 10 ms hop
//! Every channel keeps the newest 20 ms (plus one maximum pitch period) of its input. When a hop is complete:
//! 1. each channel's frame is windowed and transformed (spectrum divided by the window length, so levels read
//!    the same at every rate);
//! 2. the channel spectra are averaged into one *mix* spectrum, from which everything that decides the mask is
//!    computed: the pitch, the band statistics, the 42 features and the mask itself. One mask is applied to
//!    every channel, so a stereo image and the balance between channels are preserved;
//! 3. the mask source gives per-bin gains: classic, neural (the network's band gains refined per bin by the
//!    classic gain, see [`NEURAL_CLASSIC_WEIGHT`]) or unity (reference and tests). They are held against fast
//!    release ([`RELEASE_PER_FRAME`]) and limited by the maximum attenuation;
//! 4. the pitch comb filter and the gains are applied to each channel, which is transformed back, windowed
//!    again and overlap-added.
//!
//! ## Latency
//! An input sample comes out exactly [`Engine::latency_samples`] = one window (20 ms) later, for every sequence
//! of block sizes: samples are exchanged one hop at a time through fixed buffers, so the output does not depend
//! on how the host slices its blocks.
//!
//! ## Robustness
//! Non-finite input samples are replaced by silence and levels are clamped to ±[`INPUT_CLAMP`] (+60 dBFS) before
//! analysis, so NaN, infinities and absurd levels cannot poison any state; tiny values are flushed to zero so
//! the recursions never run on denormals.

use crate::bands::{BandLayout, NB_BANDS};
use crate::classic::ClassicSuppressor;
use crate::comb;
use crate::features::{BandStats, FeatureExtractor, NB_FEATURES};
use crate::neural::{NeuralMask, NeuralState};
use crate::pitch::{PitchTracker, MAX_LAG};
use crate::window::vorbis_into;
use crate::{DspError, FrameLayout};
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Most channels one engine processes.
pub const MAX_CHANNELS: usize = 32;
/// Input samples are clamped to ± this (linear; +60 dBFS).
pub const INPUT_CLAMP: f32 = 1000.0;
/// Samples smaller than this in magnitude are treated as zero (about −600 dBFS; avoids denormals).
const FLUSH: f32 = 1e-30;
/// Fastest allowed fall of a gain from one frame to the next (linear factor, about −4.4 dB per 10 ms). Keeps
/// word endings from being cut and avoids flutter; rises are never slowed.
pub const RELEASE_PER_FRAME: f32 = 0.6;
/// Default maximum attenuation, dB.
pub const DEFAULT_MAX_ATTENUATION_DB: f32 = 30.0;

/// Where the mask comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskMode {
    /// Classic MCRA noise tracker with MMSE-LSA gains ([`crate::classic`]).
    Classic,
    /// Every gain one and no comb filter: the output is the input delayed by the latency (reference, tests).
    Unity,
    /// The neural network's band gains ([`crate::neural`]). Without a model loaded, behaves as `Classic`.
    Neural,
}

/// The optional voice-activity gate: after the mask, frames the network judges to be without speech are
/// attenuated down to the maximum attenuation. It opens at once, holds for `hold_ms` after the last speech frame
/// and then closes gradually (`GATE_RELEASE_DB_PER_FRAME`), so word starts are never cut and word ends fade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadGate {
    /// Whether the gate acts (off by default).
    pub enabled: bool,
    /// Speech probability (0..=1) at or above which the gate opens (default 0.8).
    pub threshold: f32,
    /// Time the gate stays open after the last speech frame, milliseconds.
    pub hold_ms: f32,
}

impl Default for VadGate {
    fn default() -> Self {
        VadGate {
            enabled: false,
            // The shipped network's speech probability sits around 0.3–0.6 in steady noise between words, and
            // near 1 in speech: a threshold of 0.8 closes the gate in pauses without touching words.
            threshold: 0.8,
            hold_ms: 200.0,
        }
    }
}

/// Exponent applied to the network's gains in the bands centred at 8 kHz and above, before use. Below 1 it
/// relaxes them: the network under-estimates speech there (its training corpus holds 1.3 h of full-band speech
/// against 2.6 h of 16 kHz speech). Tuned with [`NEURAL_CLASSIC_WEIGHT`] on the tuning mixtures of
/// `docs/quality.md`. Below 8 kHz the network's gains are used as they are.
pub const NEURAL_HIGH_BAND_EXPONENT: f32 = 0.4;

/// In neural mode, each bin's gain is the network's band gain (interpolated to the bin) times the classic
/// suppressor's gain for that bin raised to this power. The network decides per band (22 bands, a few hundred
/// hertz to kilohertz wide); the classic MMSE-LSA gain adds what only a per-bin decision sees: the valleys
/// between voice harmonics and narrow-band noise such as hum and whine inside a band. With its square-root-ish
/// weight it never decides alone. Tuned on held-out tuning mixtures, not the reported ones: 0 gives PESQ-WB
/// 1.69, 0.3 gives 1.81 with higher STOI and SI-SDR gain (`docs/quality.md`).
pub const NEURAL_CLASSIC_WEIGHT: f32 = 0.3;

/// First band (by centre frequency) given [`NEURAL_HIGH_BAND_EXPONENT`]: the band centred at 8 kHz.
const HIGH_BANDS_FROM: usize = 17;

/// Clamps the network's band gains to 0..=1 and applies [`NEURAL_HIGH_BAND_EXPONENT`] from 8 kHz up.
/// Does not allocate.
fn shape_neural_gains(band: &mut [f32; NB_BANDS]) {
    for g in &mut band[..HIGH_BANDS_FROM] {
        *g = g.clamp(0.0, 1.0);
    }
    for g in &mut band[HIGH_BANDS_FROM..] {
        *g = g.clamp(0.0, 1.0).powf(NEURAL_HIGH_BAND_EXPONENT);
    }
}

/// How fast the VAD gate closes after its hold time, dB per 10 ms frame.
pub const GATE_RELEASE_DB_PER_FRAME: f32 = 1.5;

/// Construction parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Host sample rate, Hz (8 kHz to 384 kHz).
    pub sample_rate: f32,
    /// Channels processed (1 to [`MAX_CHANNELS`]). All share one mask.
    pub channels: usize,
}

/// What the engine decided for the most recent frame: for meters, the trainer and tests. Plain data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameInfo {
    /// Frames processed since construction or [`Engine::reset`].
    pub frame_index: u64,
    /// The 42 features of the mix (see [`crate::features`]).
    pub features: [f32; NB_FEATURES],
    /// Band energies of the mix spectrum (linear).
    pub band_energy: [f32; NB_BANDS],
    /// Effective gain applied per band, linear 0..=1 (power-weighted mean of the bin gains).
    pub band_gains: [f32; NB_BANDS],
    /// Pitch frequency, Hz.
    pub pitch_hz: f32,
    /// Normalised pitch correlation, -1..=1.
    pub pitch_correlation: f32,
    /// True when the frame's energy is below the silence threshold.
    pub silent: bool,
    /// Speech probability from the neural network, 0..=1 (0 when no network runs).
    pub vad: f32,
    /// Gain of the VAD gate, linear 0..=1 (1 when the gate is off or open).
    pub gate_gain: f32,
}

impl Default for FrameInfo {
    fn default() -> Self {
        FrameInfo {
            frame_index: 0,
            features: [0.0; NB_FEATURES],
            band_energy: [0.0; NB_BANDS],
            band_gains: [1.0; NB_BANDS],
            pitch_hz: 0.0,
            pitch_correlation: 0.0,
            silent: true,
            vad: 0.0,
            gate_gain: 1.0,
        }
    }
}

struct Channel {
    /// Input history: `max_lag` older samples, then the current frame's `window` samples.
    history: Vec<f32>,
    /// Overlap-add accumulator, `window` samples.
    ola: Vec<f32>,
    /// Finished output being played out during the current hop, `hop` samples.
    out: Vec<f32>,
    spec: Vec<Complex32>,
    pitch_spec: Vec<Complex32>,
}

/// The streaming noise suppressor. Construction allocates and plans everything; [`Engine::process`] never
/// allocates, locks, logs or does I/O.
pub struct Engine {
    layout: FrameLayout,
    bands: BandLayout,
    window: Vec<f32>,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch: Vec<Complex32>,
    frame: Vec<f32>,
    channels: Vec<Channel>,
    /// Longest pitch lag at the host rate, samples.
    max_lag: usize,
    /// Samples of the current hop already exchanged.
    fill: usize,
    mix: Vec<Complex32>,
    pitch_mix: Vec<Complex32>,
    power: Vec<f32>,
    gains: Vec<f32>,
    held: Vec<f32>,
    bin_scratch: Vec<f32>,
    pitch: PitchTracker,
    features: FeatureExtractor,
    classic: ClassicSuppressor,
    neural: Option<NeuralMask>,
    neural_state: NeuralState,
    gate: VadGate,
    gate_gain: f32,
    gate_hold_frames: u32,
    mode: MaskMode,
    floor: f32,
    comb_enabled: bool,
    info: FrameInfo,
}

impl Engine {
    /// Builds an engine. Allocates and plans every FFT; fails with a typed error for an unsupported sample rate
    /// or channel count. There is no maximum block size: any block length works at any time.
    pub fn new(config: EngineConfig) -> Result<Self, DspError> {
        let layout = FrameLayout::new(config.sample_rate)?;
        if config.channels == 0 || config.channels > MAX_CHANNELS {
            return Err(DspError::UnsupportedChannelCount {
                channels: config.channels,
                max: MAX_CHANNELS,
            });
        }
        let n = layout.window;
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch = vec![Complex32::default(); fwd.get_scratch_len().max(inv.get_scratch_len())];
        let mut window = vec![0.0; n];
        vorbis_into(&mut window);
        // The pitch lag is searched at 16 kHz; convert its maximum to host samples with one spare.
        let max_lag = (MAX_LAG * n).div_ceil(320) + 2;
        let channels = (0..config.channels)
            .map(|_| Channel {
                history: vec![0.0; max_lag + n],
                ola: vec![0.0; n],
                out: vec![0.0; layout.hop],
                spec: vec![Complex32::default(); layout.bins],
                pitch_spec: vec![Complex32::default(); layout.bins],
            })
            .collect();
        Ok(Engine {
            bands: BandLayout::new(&layout),
            window,
            fwd,
            inv,
            scratch,
            frame: vec![0.0; n],
            channels,
            max_lag,
            fill: 0,
            mix: vec![Complex32::default(); layout.bins],
            pitch_mix: vec![Complex32::default(); layout.bins],
            power: vec![0.0; layout.bins],
            gains: vec![1.0; layout.bins],
            held: vec![1.0; layout.bins],
            bin_scratch: vec![0.0; layout.bins],
            pitch: PitchTracker::new(&layout),
            features: FeatureExtractor::new(),
            classic: ClassicSuppressor::new(layout.bins),
            neural: None,
            neural_state: NeuralState::new(),
            gate: VadGate::default(),
            gate_gain: 1.0,
            gate_hold_frames: 0,
            mode: MaskMode::Classic,
            floor: db_to_gain(-DEFAULT_MAX_ATTENUATION_DB),
            comb_enabled: true,
            info: FrameInfo::default(),
            layout,
        })
    }

    /// The frame geometry in use.
    pub fn layout(&self) -> &FrameLayout {
        &self.layout
    }

    /// The band layout in use.
    pub fn bands(&self) -> &BandLayout {
        &self.bands
    }

    /// Number of channels this engine was built for.
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// Delay from input to output, samples: one window (20 ms, e.g. 960 at 48 kHz). Constant for the engine's
    /// life; report it to the host and delay any dry path by the same amount.
    pub fn latency_samples(&self) -> usize {
        self.layout.window
    }

    /// Selects the mask source. Takes effect at the next frame. Does not allocate.
    pub fn set_mode(&mut self, mode: MaskMode) {
        self.mode = mode;
    }

    /// The current mask source.
    pub fn mode(&self) -> MaskMode {
        self.mode
    }

    /// The mask source actually running: `Neural` falls back to `Classic` while no model is loaded.
    pub fn effective_mode(&self) -> MaskMode {
        match (self.mode, &self.neural) {
            (MaskMode::Neural, None) => MaskMode::Classic,
            (mode, _) => mode,
        }
    }

    /// Installs (or removes) the neural network and clears its state. Returns the previous network so that
    /// the caller can drop it where deallocation is allowed: call this off the audio thread (for example when
    /// a host activates the plugin). Does not allocate.
    pub fn set_model(&mut self, model: Option<NeuralMask>) -> Option<NeuralMask> {
        self.neural_state.reset();
        std::mem::replace(&mut self.neural, model)
    }

    /// The installed neural network, if any.
    pub fn model(&self) -> Option<&NeuralMask> {
        self.neural.as_ref()
    }

    /// Configures the VAD gate (see [`VadGate`]); threshold is clamped to 0..=1 and hold to 0..=5000 ms.
    /// Does not allocate.
    pub fn set_vad_gate(&mut self, gate: VadGate) {
        self.gate = VadGate {
            enabled: gate.enabled,
            threshold: if gate.threshold.is_finite() {
                gate.threshold.clamp(0.0, 1.0)
            } else {
                0.5
            },
            hold_ms: if gate.hold_ms.is_finite() {
                gate.hold_ms.clamp(0.0, 5000.0)
            } else {
                200.0
            },
        };
    }

    /// Sets the maximum attenuation ("reduction"), dB, clamped to 0..=100. 0 dB leaves the signal untouched
    /// (output = input delayed by the latency). Takes effect at the next frame. Does not allocate.
    pub fn set_max_attenuation_db(&mut self, db: f32) {
        let db = if db.is_finite() {
            db.clamp(0.0, 100.0)
        } else {
            DEFAULT_MAX_ATTENUATION_DB
        };
        self.floor = db_to_gain(-db);
    }

    /// The current maximum attenuation, dB.
    pub fn max_attenuation_db(&self) -> f32 {
        -20.0 * self.floor.log10()
    }

    /// Enables or disables the pitch comb filter (on by default). Does not allocate.
    pub fn set_comb_filter(&mut self, enabled: bool) {
        self.comb_enabled = enabled;
    }

    /// What the engine decided for the most recent frame.
    pub fn frame_info(&self) -> &FrameInfo {
        &self.info
    }

    /// The classic suppressor's noise estimate per bin (linear |X|²), for meters and diagnostics.
    pub fn noise_estimate(&self) -> &[f32] {
        self.classic.noise()
    }

    /// Clears all audio history and adaptation, as after construction. Parameters are kept. Does not allocate.
    pub fn reset(&mut self) {
        for ch in &mut self.channels {
            ch.history.fill(0.0);
            ch.ola.fill(0.0);
            ch.out.fill(0.0);
        }
        self.fill = 0;
        self.held.fill(1.0);
        self.pitch.reset();
        self.features.reset();
        self.classic.reset();
        self.neural_state.reset();
        self.gate_gain = 1.0;
        self.gate_hold_frames = 0;
        self.info = FrameInfo::default();
    }

    /// Processes `audio` in place: one slice per channel, all of the same length (any length, including 0 and
    /// lengths longer than a frame). Output is the processed input delayed by [`Engine::latency_samples`].
    ///
    /// A host that passes a different number of channels than configured is tolerated: extra slices are left
    /// untouched and missing channels are treated as silence. Slices of unequal length are processed up to the
    /// shortest. Never allocates, locks, logs or does I/O.
    pub fn process(&mut self, audio: &mut [&mut [f32]]) {
        let used = audio.len().min(self.channels.len());
        let len = audio.iter().take(used).map(|c| c.len()).min().unwrap_or(0);
        let hop = self.layout.hop;
        let tail = self.max_lag + self.layout.window - hop;
        let mut pos = 0;
        while pos < len {
            let n = (len - pos).min(hop - self.fill);
            for (c, ch) in self.channels.iter_mut().enumerate() {
                let dst = &mut ch.history[tail + self.fill..tail + self.fill + n];
                if c < used {
                    let io = &mut audio[c][pos..pos + n];
                    for ((d, x), o) in dst
                        .iter_mut()
                        .zip(io.iter_mut())
                        .zip(&ch.out[self.fill..self.fill + n])
                    {
                        *d = sanitize(*x);
                        *x = *o;
                    }
                } else {
                    dst.fill(0.0);
                }
            }
            self.fill += n;
            pos += n;
            if self.fill == hop {
                self.process_frame();
                self.fill = 0;
            }
        }
    }

    fn process_frame(&mut self) {
        let n = self.layout.window;
        let hop = self.layout.hop;
        let scale = 1.0 / n as f32;
        let inv_channels = 1.0 / self.channels.len() as f32;

        // 1. Analysis of every channel, and the mix.
        self.mix.fill(Complex32::default());
        for ch in &mut self.channels {
            forward(
                &*self.fwd,
                &self.window,
                &ch.history[self.max_lag..],
                &mut self.frame,
                &mut ch.spec,
                &mut self.scratch,
                scale,
            );
            for (m, s) in self.mix.iter_mut().zip(&ch.spec) {
                *m += *s * inv_channels;
            }
        }

        // 2. Pitch, and the pitch-delayed spectra.
        let pitch = self.pitch.analyze(&self.mix);
        let lag = ((pitch.period_seconds * self.layout.sample_rate).round() as usize)
            .clamp(1, self.max_lag);
        self.pitch_mix.fill(Complex32::default());
        for ch in &mut self.channels {
            let start = self.max_lag - lag;
            forward(
                &*self.fwd,
                &self.window,
                &ch.history[start..start + n],
                &mut self.frame,
                &mut ch.pitch_spec,
                &mut self.scratch,
                scale,
            );
            for (m, s) in self.pitch_mix.iter_mut().zip(&ch.pitch_spec) {
                *m += *s * inv_channels;
            }
        }

        // 3. Band statistics and features of the mix.
        let mut stats = BandStats::default();
        let mut raw = [0.0; NB_BANDS];
        self.bands.energy(&self.mix, &mut stats.ex);
        self.bands.energy(&self.pitch_mix, &mut stats.ep);
        self.bands.correlation(&self.mix, &self.pitch_mix, &mut raw);
        stats.normalise_correlation(&raw);
        let silent = self
            .features
            .compute(&stats, pitch.period_seconds, &mut self.info.features);

        // 4. The mask.
        for (p, m) in self.power.iter_mut().zip(&self.mix) {
            *p = m.norm_sqr();
        }
        let mode = self.effective_mode();
        let shaping = mode != MaskMode::Unity && self.floor < 1.0;
        let mut vad = 0.0;
        match (mode, &self.neural) {
            (MaskMode::Neural, Some(net)) => {
                let mut band = [1.0; NB_BANDS];
                vad = net.step(&mut self.neural_state, &self.info.features, &mut band);
                shape_neural_gains(&mut band);
                // Absent bands (above Nyquist) have no target; hold the last present band's gain.
                self.bands.interpolate(&band, &mut self.gains);
                // Per-bin refinement by the classic suppressor (which also keeps its noise estimate current,
                // so a switch to classic mode starts from a learnt noise floor).
                self.classic.process(&self.power, &mut self.bin_scratch);
                for (g, c) in self.gains.iter_mut().zip(&self.bin_scratch) {
                    *g *= c.powf(NEURAL_CLASSIC_WEIGHT);
                }
            }
            (MaskMode::Classic, _) | (MaskMode::Neural, None) => {
                self.classic.process(&self.power, &mut self.gains)
            }
            (MaskMode::Unity, _) => self.gains.fill(1.0),
        }
        let gate = self.update_gate(vad, mode == MaskMode::Neural && shaping);
        if shaping {
            for (g, h) in self.gains.iter_mut().zip(self.held.iter_mut()) {
                let held = if g.is_finite() {
                    g.max(*h * RELEASE_PER_FRAME)
                } else {
                    1.0
                };
                *h = flush(held);
                *g = (held * gate).max(self.floor);
            }
        } else {
            self.gains.fill(1.0);
            self.held.fill(1.0);
        }
        let mut band_gains = [1.0; NB_BANDS];
        self.bands
            .reduce_gains(&self.gains, &self.power, &mut band_gains);

        // 5. Comb filter and gains per channel; synthesis.
        let mut amounts = [0.0; NB_BANDS];
        let comb_on = shaping && self.comb_enabled;
        if comb_on {
            comb::band_amounts(&stats.corr, &band_gains, 1.0 - self.floor, &mut amounts);
        }
        for ch in &mut self.channels {
            if comb_on {
                comb::apply(
                    &self.bands,
                    &amounts,
                    &mut ch.spec,
                    &ch.pitch_spec,
                    &mut self.bin_scratch,
                );
            }
            for (s, g) in ch.spec.iter_mut().zip(&self.gains) {
                *s *= *g;
            }
            ch.spec[0].im = 0.0;
            ch.spec[n / 2].im = 0.0;
            let _ = self
                .inv
                .process_with_scratch(&mut ch.spec, &mut self.frame, &mut self.scratch);
            for ((o, f), w) in ch.ola.iter_mut().zip(&self.frame).zip(&self.window) {
                *o = flush(*o + f * w);
            }
            ch.out.copy_from_slice(&ch.ola[..hop]);
            ch.ola.copy_within(hop.., 0);
            ch.ola[n - hop..].fill(0.0);
            ch.history.copy_within(hop.., 0);
        }

        self.info.frame_index += 1;
        self.info.band_energy = stats.ex;
        self.info.band_gains = band_gains;
        self.info.pitch_hz = pitch.frequency_hz();
        self.info.pitch_correlation = pitch.correlation;
        self.info.silent = silent;
        self.info.vad = vad;
        self.info.gate_gain = gate;
    }

    /// Advances the VAD gate by one frame and returns its gain (1 when off or open). Does not allocate.
    fn update_gate(&mut self, vad: f32, active: bool) -> f32 {
        if !(active && self.gate.enabled) {
            self.gate_gain = 1.0;
            self.gate_hold_frames = 0;
            return 1.0;
        }
        if vad >= self.gate.threshold {
            self.gate_gain = 1.0;
            self.gate_hold_frames = (self.gate.hold_ms / 10.0).round() as u32;
        } else if self.gate_hold_frames > 0 {
            self.gate_hold_frames -= 1;
        } else {
            self.gate_gain =
                (self.gate_gain * db_to_gain(-GATE_RELEASE_DB_PER_FRAME)).max(self.floor);
        }
        self.gate_gain
    }
}

/// Band energies of every frame of `signal` as the engine frames it at `sample_rate` (frame `i` ends at sample
/// `(i + 1) · hop`, with silence before the start): the same window, FFT scaling and bands as
/// [`FrameInfo::band_energy`]. For the trainer's targets. Allocates.
pub fn frame_band_energies(
    sample_rate: f32,
    signal: &[f32],
) -> Result<Vec<[f32; NB_BANDS]>, DspError> {
    let layout = FrameLayout::new(sample_rate)?;
    let bands = BandLayout::new(&layout);
    let (n, hop) = (layout.window, layout.hop);
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n);
    let mut scratch = vec![Complex32::default(); fft.get_scratch_len()];
    let mut window = vec![0.0; n];
    vorbis_into(&mut window);
    let mut padded = vec![0.0f32; n - hop];
    padded.extend(signal.iter().map(|&x| sanitize(x)));
    let (mut frame, mut spec) = (vec![0.0; n], vec![Complex32::default(); layout.bins]);
    let frames = signal.len() / hop;
    let mut out = Vec::with_capacity(frames);
    for i in 0..frames {
        forward(
            &*fft,
            &window,
            &padded[i * hop..i * hop + n],
            &mut frame,
            &mut spec,
            &mut scratch,
            1.0 / n as f32,
        );
        let mut e = [0.0; NB_BANDS];
        bands.energy(&spec, &mut e);
        out.push(e);
    }
    Ok(out)
}

/// Windows `input` into `frame`, transforms it into `spec` and scales by `scale`. Does not allocate.
fn forward(
    fft: &dyn RealToComplex<f32>,
    window: &[f32],
    input: &[f32],
    frame: &mut [f32],
    spec: &mut [Complex32],
    scratch: &mut [Complex32],
    scale: f32,
) {
    for ((f, x), w) in frame.iter_mut().zip(input).zip(window) {
        *f = x * w;
    }
    let _ = fft.process_with_scratch(frame, spec, scratch);
    for s in spec.iter_mut() {
        *s *= scale;
    }
}

#[inline]
fn sanitize(x: f32) -> f32 {
    if x.is_finite() {
        flush(x.clamp(-INPUT_CLAMP, INPUT_CLAMP))
    } else {
        0.0
    }
}

#[inline]
fn flush(x: f32) -> f32 {
    if x.abs() < FLUSH {
        0.0
    } else {
        x
    }
}

/// Converts dB to a linear amplitude gain.
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut e = Engine::new(EngineConfig {
            sample_rate: 48_000.0,
            channels: 1,
        })
        .unwrap();
        e.set_vad_gate(VadGate {
            enabled: true,
            threshold: 0.5,
            hold_ms: 50.0,
        });
        e.set_max_attenuation_db(30.0);
        e
    }

    #[test]
    fn vad_gate_opens_at_once_holds_then_releases_gradually() {
        let mut e = engine();
        // Silence closes the gate gradually, never below the attenuation floor.
        let mut last = 1.0;
        for _ in 0..200 {
            let g = e.update_gate(0.0, true);
            assert!(g <= last && g >= e.floor - 1e-7);
            assert!(
                last / g <= db_to_gain(GATE_RELEASE_DB_PER_FRAME) * 1.0001,
                "closed faster than the release"
            );
            last = g;
        }
        assert!((last - e.floor).abs() < 1e-6);
        // The first speech frame opens it completely: a word start is never attenuated by the gate.
        assert_eq!(e.update_gate(0.9, true), 1.0);
        // It holds for hold_ms (5 frames) after the last speech frame...
        for _ in 0..5 {
            assert_eq!(e.update_gate(0.1, true), 1.0);
        }
        // ...then releases by GATE_RELEASE_DB_PER_FRAME per frame.
        let g = e.update_gate(0.1, true);
        assert!((g - db_to_gain(-GATE_RELEASE_DB_PER_FRAME)).abs() < 1e-6);
    }

    #[test]
    fn vad_gate_is_transparent_when_off_or_inactive() {
        let mut e = engine();
        assert_eq!(e.update_gate(0.0, false), 1.0);
        e.set_vad_gate(VadGate::default());
        for _ in 0..100 {
            assert_eq!(e.update_gate(0.0, true), 1.0);
        }
    }

    #[test]
    fn a_closed_vad_gate_attenuates_the_audio_down_to_the_floor() {
        use crate::neural::ModelWeights;
        // Noise through a network, with a gate whose threshold no frame reaches (VAD < 1 always).
        let mut rng = crate::synth::Rng::new(9);
        let noise = crate::synth::white(&mut rng, 96_000, -20.0);
        let run = |gate: bool| -> Vec<f32> {
            let mut e = engine();
            e.set_model(Some(NeuralMask::new(&ModelWeights::seeded_random(3))));
            e.set_mode(MaskMode::Neural);
            e.set_vad_gate(VadGate {
                enabled: gate,
                threshold: 1.0,
                hold_ms: 100.0,
            });
            let mut x = noise.clone();
            for block in x.chunks_mut(480) {
                e.process(&mut [block]);
            }
            x
        };
        let energy = |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
        let (open, gated) = (run(false), run(true));
        // After the release (30 dB at 1.5 dB per frame = 20 frames), the last second sits at the floor: 30 dB
        // below the input, whatever the network's own gains were (they are above the floor).
        let ratio_db =
            10.0 * (energy(&gated[48_000..]) / energy(&noise[48_000 - 960..96_000 - 960])).log10();
        assert!(
            ratio_db < -28.0 && ratio_db > -32.0,
            "gated output {ratio_db:.1} dB re input"
        );
        let open_db =
            10.0 * (energy(&open[48_000..]) / energy(&noise[48_000 - 960..96_000 - 960])).log10();
        assert!(open_db > ratio_db + 3.0, "ungated {open_db:.1} dB re input");
        // It closes gradually: the first output hop (two overlapping frames) is attenuated by at most two release steps.
        let first_db = 10.0 * (energy(&gated[960..1440]) / energy(&open[960..1440])).log10();
        assert!(
            first_db > -2.0 * f64::from(GATE_RELEASE_DB_PER_FRAME) - 0.5,
            "first frame {first_db:.1} dB"
        );
    }

    #[test]
    fn neural_gain_shaping_differs_below_and_above_8_khz() {
        assert_eq!(crate::bands::BAND_EDGES_HZ[HIGH_BANDS_FROM], 8000.0);
        let mut band = [0.5; NB_BANDS];
        band[0] = 1.5;
        band[1] = -0.5;
        shape_neural_gains(&mut band);
        assert_eq!(band[0], 1.0);
        assert_eq!(band[1], 0.0);
        assert!(band[2..HIGH_BANDS_FROM].iter().all(|&g| g == 0.5));
        let high = 0.5f32.powf(NEURAL_HIGH_BAND_EXPONENT);
        assert!(band[HIGH_BANDS_FROM..].iter().all(|&g| g == high));
    }

    #[test]
    fn neural_mode_refines_the_band_gains_per_bin_with_the_classic_gain() {
        use crate::neural::{topology::TENSORS, ModelMetadata, ModelWeights};
        // A network that passes everything: zero weights, band-gain outputs saturated at one.
        let tensors = TENSORS
            .iter()
            .map(|spec| {
                let fill = if spec.name == "denoise_output.bias" {
                    30.0
                } else {
                    0.0
                };
                vec![fill; spec.values()]
            })
            .collect();
        let open = ModelWeights::from_vectors(
            tensors,
            ModelMetadata {
                training: "test: every gain one".into(),
            },
        )
        .unwrap();
        let mut rng = crate::synth::Rng::new(4);
        let noise = crate::synth::white(&mut rng, 144_000, -30.0);
        let run = |mode: MaskMode| -> f64 {
            let mut e = engine();
            e.set_vad_gate(VadGate::default());
            e.set_model(Some(NeuralMask::new(&open)));
            e.set_mode(mode);
            let mut x = noise.clone();
            for block in x.chunks_mut(480) {
                e.process(&mut [block]);
            }
            let energy = |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
            10.0 * (energy(&x[96_000..]) / energy(&noise[96_000 - 960..144_000 - 960])).log10()
        };
        let (neural_db, classic_db) = (run(MaskMode::Neural), run(MaskMode::Classic));
        // The classic gain enters with the weight NEURAL_CLASSIC_WEIGHT: in dB, about that share of the
        // classic mode's own reduction (power-weighted over bins, so not exactly).
        let share = neural_db / classic_db;
        assert!(classic_db < -15.0, "classic {classic_db:.1} dB");
        assert!(
            (0.6 * NEURAL_CLASSIC_WEIGHT as f64..1.5 * NEURAL_CLASSIC_WEIGHT as f64)
                .contains(&share),
            "neural {neural_db:.1} dB, classic {classic_db:.1} dB"
        );
    }
}
