//! The streaming processor: the façade that wires the stages of the audio path together, for any block size and
//! channel count, with exact latency and no allocation while processing.
//!
//! ## One 10 ms hop
//! Every channel keeps the newest 20 ms (plus one maximum pitch period) of its input ([`crate::stft`]). When a
//! hop is complete:
//! 1. each channel's frame is analysed, and the channel spectra are averaged into one *mix* spectrum, from which
//!    everything that decides the mask is computed, so one mask serves every channel and a stereo image and the
//!    balance between channels are preserved;
//! 2. the pitch ([`crate::pitch`]) and the pitch-delayed spectra;
//! 3. the band statistics and the 42 features ([`crate::features`]);
//! 4. the mask source's gains (classic, neural, or unity), made into the applied gains by [`crate::mask`];
//! 5. the pitch comb filter ([`crate::comb`]) and the gains on each channel, then synthesis ([`crate::stft`]).
//!
//! ## Latency
//! An input sample comes out exactly [`Engine::latency_samples`] = one window (20 ms) later, for every sequence
//! of block sizes: samples are exchanged one hop at a time through fixed buffers, so the output does not depend
//! on how the host slices its blocks.
//!
//! ## Robustness
//! Input is sanitised on the way in ([`crate::stft::sanitize`]): NaN, infinities and absurd levels cannot
//! poison any state, and the recursions never run on denormals.

use crate::bands::{BandLayout, NB_BANDS};
use crate::classic::ClassicSuppressor;
use crate::comb;
use crate::features::{BandStats, FeatureExtractor};
use crate::mask::{self, MaskStage, NeuralShaping};
use crate::neural::{NeuralMask, NeuralState};
use crate::pitch::{PitchTracker, MAX_LAG};
use crate::settings::{MaskMode, Settings, VadGate};
use crate::stft::Stft;
use crate::{DspError, FrameInfo, FrameLayout};
use realfft::num_complex::Complex32;

/// Most channels one engine processes.
pub const MAX_CHANNELS: usize = 32;

/// Construction parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Host sample rate, Hz (8 kHz to 384 kHz).
    pub sample_rate: f32,
    /// Channels processed (1 to [`MAX_CHANNELS`]). All share one mask.
    pub channels: usize,
}

/// The streaming noise suppressor. Construction allocates and plans everything; [`Engine::process`] never
/// allocates, locks, logs or does I/O.
pub struct Engine {
    layout: FrameLayout,
    bands: BandLayout,
    stft: Stft,
    /// Per channel: the current frame's spectrum, and the spectrum of the frame one pitch period earlier.
    spec: Vec<Vec<Complex32>>,
    pitch_spec: Vec<Vec<Complex32>>,
    /// Longest pitch lag at the host rate, samples.
    max_lag: usize,
    mix: Vec<Complex32>,
    pitch_mix: Vec<Complex32>,
    power: Vec<f32>,
    gains: Vec<f32>,
    bin_scratch: Vec<f32>,
    pitch: PitchTracker,
    features: FeatureExtractor,
    classic: ClassicSuppressor,
    neural: Option<NeuralMask>,
    neural_state: NeuralState,
    mask: MaskStage,
    shaping: NeuralShaping,
    mode: MaskMode,
    comb_enabled: bool,
    /// Scale of the comb filter's amounts ([`comb::COMB_STRENGTH`] by default).
    comb_strength: f32,
    info: FrameInfo,
    /// Bins the classic suppressor tracks: up to [`SUPPRESSED_UP_TO_HZ`] (all bins at 48 kHz and below). Bins
    /// above take the gain of the highest tracked bin.
    suppressed_bins: usize,
    /// Bins of the gate's onset cue ([`mask::ONSET_LOW_HZ`] ..= [`mask::ONSET_HIGH_HZ`], below Nyquist).
    onset_bins: std::ops::Range<usize>,
    /// Bins of the onset cue's fricative range ([`mask::ONSET_FRICATIVE_LOW_HZ`] ..= [`mask::ONSET_HIGH_HZ`]).
    fricative_bins: std::ops::Range<usize>,
}

impl Engine {
    /// Builds an engine with [`Settings::DEFAULT`]. Allocates and plans every FFT; fails with a typed error for
    /// an unsupported sample rate or channel count. There is no maximum block size: any block length works at
    /// any time.
    pub fn new(config: EngineConfig) -> Result<Self, DspError> {
        let layout = FrameLayout::new(config.sample_rate)?;
        if config.channels == 0 || config.channels > MAX_CHANNELS {
            return Err(DspError::UnsupportedChannelCount {
                channels: config.channels,
                max: MAX_CHANNELS,
            });
        }
        // The pitch lag is searched at 16 kHz; convert its maximum to host samples with one spare.
        let max_lag = (MAX_LAG * layout.window).div_ceil(320) + 2;
        let bins = layout.bins;
        let spectra = || vec![vec![Complex32::default(); bins]; config.channels];
        let mut engine = Engine {
            bands: BandLayout::new(&layout),
            stft: Stft::new(&layout, config.channels, max_lag),
            spec: spectra(),
            pitch_spec: spectra(),
            max_lag,
            mix: vec![Complex32::default(); bins],
            pitch_mix: vec![Complex32::default(); bins],
            power: vec![0.0; bins],
            gains: vec![1.0; bins],
            bin_scratch: vec![0.0; bins],
            pitch: PitchTracker::new(&layout),
            features: FeatureExtractor::new(),
            classic: ClassicSuppressor::new(bins),
            neural: None,
            neural_state: NeuralState::new(),
            mask: MaskStage::new(bins),
            shaping: NeuralShaping::DEFAULT,
            mode: Settings::DEFAULT.mode,
            comb_enabled: true,
            comb_strength: comb::COMB_STRENGTH,
            info: FrameInfo::default(),
            onset_bins: onset_bins(&layout, mask::ONSET_LOW_HZ),
            fricative_bins: onset_bins(&layout, mask::ONSET_FRICATIVE_LOW_HZ),
            suppressed_bins: ((SUPPRESSED_UP_TO_HZ / layout.bin_hz).round() as usize + 1)
                .clamp(1, layout.bins),
            layout,
        };
        engine.set_settings(&Settings::DEFAULT);
        Ok(engine)
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
        self.stft.channels()
    }

    /// Delay from input to output, samples: one window (20 ms, e.g. 960 at 48 kHz). Constant for the engine's
    /// life; report it to the host and delay any dry path by the same amount.
    pub fn latency_samples(&self) -> usize {
        self.stft.latency_samples()
    }

    /// How long the output can still be non-zero after the last non-zero input sample, samples: two windows (the
    /// last frame that saw the sample, played out one latency later) plus the longest pitch lag the comb filter
    /// looks back (16 ms). After that much digital silence the output is exactly zero (e.g. 2690 at 48 kHz).
    pub fn tail_samples(&self) -> usize {
        2 * self.layout.window + self.max_lag
    }

    /// Samples still to pass before the next frame is processed (1 ..= hop): a caller that works hop by hop
    /// aligns its own sub-blocks with the engine's frames from this.
    pub fn samples_until_frame(&self) -> usize {
        self.stft.until_frame()
    }

    /// Applies every setting at once (limited to their ranges, see [`Settings::clamped`]). Takes effect at the
    /// next frame. Does not allocate.
    pub fn set_settings(&mut self, settings: &Settings) {
        self.set_mode(settings.mode);
        self.set_max_attenuation_db(settings.reduction_db);
        self.set_vad_gate(settings.gate);
    }

    /// The settings in use (as limited to their ranges).
    pub fn settings(&self) -> Settings {
        Settings {
            reduction_db: self.max_attenuation_db(),
            mode: self.mode,
            gate: self.mask.gate(),
        }
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

    /// Configures the VAD gate (see [`VadGate`]); threshold and hold are limited to
    /// [`Settings::GATE_THRESHOLD`] and [`Settings::GATE_HOLD_MS`]. Does not allocate.
    pub fn set_vad_gate(&mut self, gate: VadGate) {
        self.mask.set_gate(gate);
    }

    /// Sets the maximum attenuation ("reduction"), dB, limited to [`Settings::REDUCTION_DB`]. 0 dB leaves the
    /// signal untouched (output = input delayed by the latency). Takes effect at the next frame. Does not
    /// allocate.
    pub fn set_max_attenuation_db(&mut self, db: f32) {
        self.mask.set_max_attenuation_db(db);
    }

    /// The current maximum attenuation, dB.
    pub fn max_attenuation_db(&self) -> f32 {
        self.mask.max_attenuation_db()
    }

    /// Replaces the shaping of the network's gains (default [`NeuralShaping::DEFAULT`], the shipped constants).
    /// For evaluations that re-check those constants; a product has no reason to call it. Does not allocate.
    pub fn set_neural_shaping(&mut self, shaping: NeuralShaping) {
        self.shaping = shaping;
    }

    /// Scales the pitch comb filter's per-band amounts by `strength` (linear, limited to 0..=1; the default is
    /// [`comb::COMB_STRENGTH`]). For evaluations that measure the filter; a product has no reason to call it.
    /// Does not allocate.
    pub fn set_comb_strength(&mut self, strength: f32) {
        self.comb_strength = if strength.is_finite() {
            strength.clamp(0.0, 1.0)
        } else {
            1.0
        };
    }

    /// Replaces the release limit of the mask stage (see [`MaskStage::set_release_per_frame`]). For evaluations
    /// that measure it; a product has no reason to call it. Does not allocate.
    pub fn set_release_per_frame(&mut self, release: f32) {
        self.mask.set_release_per_frame(release);
    }

    /// Turns the voice gate's onset cue on or off (on by default; see [`mask::GATE_ONSET_SNR_DB`]). For
    /// evaluations that measure it; a product has no reason to call it. Does not allocate.
    pub fn set_gate_onset_cue(&mut self, enabled: bool) {
        self.mask.set_onset_cue(enabled);
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

    /// Clears all audio history and adaptation, as after construction. Settings are kept. Does not allocate.
    pub fn reset(&mut self) {
        self.stft.reset();
        self.mask.reset();
        self.pitch.reset();
        self.features.reset();
        self.classic.reset();
        self.neural_state.reset();
        self.info = FrameInfo::default();
    }

    /// Processes `audio` in place: one slice per channel, all of the same length (any length, including 0 and
    /// lengths longer than a frame). Output is the processed input delayed by [`Engine::latency_samples`].
    ///
    /// A host that passes a different number of channels than configured is tolerated: extra slices are left
    /// untouched and missing channels are treated as silence. Slices of unequal length are processed up to the
    /// shortest. Never allocates, locks, logs or does I/O.
    pub fn process(&mut self, audio: &mut [&mut [f32]]) {
        let used = audio.len().min(self.stft.channels());
        let len = audio.iter().take(used).map(|c| c.len()).min().unwrap_or(0);
        let mut pos = 0;
        while pos < len {
            let n = (len - pos).min(self.stft.until_frame());
            if self.stft.exchange(audio, used, pos, n) {
                self.process_frame();
            }
            pos += n;
        }
    }

    /// One hop: analysis, features, mask, synthesis. Does not allocate.
    fn process_frame(&mut self) {
        let inv_channels = 1.0 / self.stft.channels() as f32;

        // 1. Analysis of every channel, and the mix.
        self.mix.fill(Complex32::default());
        for (c, spec) in self.spec.iter_mut().enumerate() {
            self.stft.analyze(c, 0, spec);
            for (m, s) in self.mix.iter_mut().zip(spec.iter()) {
                *m += *s * inv_channels;
            }
        }

        // 2. Pitch, and the pitch-delayed spectra.
        let pitch = self.pitch.analyze(&self.mix);
        let lag = ((pitch.period_seconds * self.layout.sample_rate).round() as usize)
            .clamp(1, self.max_lag);
        self.pitch_mix.fill(Complex32::default());
        for (c, spec) in self.pitch_spec.iter_mut().enumerate() {
            self.stft.analyze(c, lag, spec);
            for (m, s) in self.pitch_mix.iter_mut().zip(spec.iter()) {
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

        // 4. The mask source, then the mask stage.
        for (p, m) in self.power.iter_mut().zip(&self.mix) {
            *p = m.norm_sqr();
        }
        let mode = self.effective_mode();
        let mut vad = 0.0;
        match (mode, &self.neural) {
            (MaskMode::Neural, Some(net)) => {
                let mut band = [1.0; NB_BANDS];
                vad = net.step(&mut self.neural_state, &self.info.features, &mut band);
                // The classic suppressor runs too: it refines the band gains per bin, and its noise estimate
                // stays current, so a switch to classic mode starts from a learnt noise floor.
                let k = self.suppressed_bins;
                self.classic
                    .process(&self.power[..k], &mut self.bin_scratch[..k]);
                let top = self.bin_scratch[k - 1];
                self.bin_scratch[k..].fill(top);
                mask::refine_neural(
                    &self.bands,
                    &self.shaping,
                    &mut band,
                    vad,
                    &mut self.bin_scratch,
                    &self.power,
                    &mut self.gains,
                );
            }
            (MaskMode::Classic, _) | (MaskMode::Neural, None) => {
                let k = self.suppressed_bins;
                self.classic.process(&self.power[..k], &mut self.gains[..k]);
                let top = self.gains[k - 1];
                self.gains[k..].fill(top);
            }
            (MaskMode::Unity, _) => self.gains.fill(1.0),
        }
        let shaping = self.mask.shapes(mode);
        let noise = self.classic.noise();
        let onset_db = mask::onset_measure_db(
            mask::onset_snr_db(&self.power, noise, self.onset_bins.clone()),
            mask::onset_snr_db(&self.power, noise, self.fricative_bins.clone()),
        );
        let gate = self.mask.apply(&mut self.gains, mode, vad, onset_db);
        let mut band_gains = [1.0; NB_BANDS];
        self.bands
            .reduce_gains(&self.gains, &self.power, &mut band_gains);

        // 5. Comb filter and gains per channel; synthesis.
        let mut amounts = [0.0; NB_BANDS];
        let comb_on = shaping && self.comb_enabled;
        if comb_on {
            let depth = (1.0 - self.mask.floor()) * self.comb_strength;
            comb::band_amounts(&stats.corr, &band_gains, depth, &mut amounts);
        }
        for (c, (spec, pitch_spec)) in self.spec.iter_mut().zip(&self.pitch_spec).enumerate() {
            if comb_on {
                comb::apply(
                    &self.bands,
                    &amounts,
                    spec,
                    pitch_spec,
                    &mut self.bin_scratch,
                );
            }
            for (s, g) in spec.iter_mut().zip(&self.gains) {
                *s *= *g;
            }
            self.stft.synthesize(c, spec);
        }
        self.stft.advance();

        self.info.frame_index += 1;
        self.info.band_energy = stats.ex;
        self.info.band_gains = band_gains;
        self.info.pitch_hz = pitch.frequency_hz();
        self.info.pitch_correlation = pitch.correlation;
        self.info.silent = silent;
        self.info.vad = vad;
        self.info.gate_gain = gate;
        self.info.onset_db = onset_db;
    }
}

/// Highest frequency whose bins the classic suppressor tracks one by one, Hz. Above it (only at rates above
/// 48 kHz) every bin takes the gain of the bin at this frequency: the network's bands end at 20 kHz, nothing
/// there is speech, and per-bin tracking of the ultrasonic bins was most of the frame's cost at 192 kHz
/// (`cargo bench -p quell-dsp --bench callbacks`, `docs/performance.md`).
pub const SUPPRESSED_UP_TO_HZ: f32 = 24_000.0;

/// The bins from `low_hz` up to [`mask::ONSET_HIGH_HZ`] (or Nyquist). Does not allocate.
fn onset_bins(layout: &FrameLayout, low_hz: f32) -> std::ops::Range<usize> {
    let bin_hz = layout.sample_rate / layout.window as f32;
    let low = (low_hz / bin_hz).ceil() as usize;
    let high = ((mask::ONSET_HIGH_HZ / bin_hz).floor() as usize + 1).min(layout.bins);
    low.min(high)..high
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{GATE_RELEASE_DB_PER_FRAME, NEURAL_CLASSIC_WEIGHT};

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
    fn the_onset_cue_hears_a_weak_fricative_over_a_low_frequency_floor() {
        // Brown noise (its power far below 2 kHz) until the noise estimate has settled, then 60 ms of a
        // "fricative" (tones from 3 to 8 kHz, 17 dB below it together): nothing against the whole range's
        // power, plenty in the fricative range. (The noise alone, 0.5 s of it, peaks at 4.2 dB over the whole
        // range.)
        let mut rng = crate::synth::Rng::new(4);
        let mut x = crate::synth::brown(&mut rng, 144_000, -25.0);
        let start = 120_000;
        for (k, v) in x[start..start + 2_880].iter_mut().enumerate() {
            let t = k as f32 / 48_000.0;
            for f in [3_000.0, 4_500.0, 6_000.0, 8_000.0] {
                *v += 10f32.powf(-45.0 / 20.0) * (2.0 * std::f32::consts::PI * f * t).sin();
            }
        }
        let mut e = engine();
        e.set_mode(MaskMode::Classic);
        let (mut before, mut during) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
        let mut whole_during = f32::NEG_INFINITY;
        for (i, hop) in x.chunks_mut(480).enumerate() {
            e.process(&mut [hop]);
            let at = i * 480;
            if (96_000..start - 960).contains(&at) {
                before = before.max(e.frame_info().onset_db);
            }
            // The frames whose window holds the tones throughout.
            if (start + 960..start + 2_880 - 960).contains(&at) {
                during = during.max(e.frame_info().onset_db);
                let whole = mask::onset_snr_db(&e.power, e.classic.noise(), e.onset_bins.clone());
                whole_during = whole_during.max(whole);
            }
        }
        assert!(
            before < mask::GATE_ONSET_SNR_DB,
            "noise alone: {before:.1} dB"
        );
        assert!(
            whole_during < mask::GATE_ONSET_SNR_DB,
            "the whole range already hears it ({whole_during:.1} dB): the test signal is wrong"
        );
        assert!(
            during >= mask::GATE_ONSET_SNR_DB,
            "fricative range: {during:.1} dB"
        );
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

    #[test]
    fn ultrasonic_bins_are_reduced_like_the_highest_tracked_bin() {
        // White noise, classic mode: at 96 kHz the half above 24 kHz takes the 24 kHz bin's gain, so the noise
        // is reduced about as much as at 48 kHz, where every bin is tracked.
        let reduction_db = |rate: f32| {
            let len = (rate * 4.0) as usize;
            let mut rng = crate::synth::Rng::new(12);
            let noise = crate::synth::white(&mut rng, len, -30.0);
            let mut e = Engine::new(EngineConfig {
                sample_rate: rate,
                channels: 1,
            })
            .unwrap();
            e.set_mode(MaskMode::Classic);
            let mut x = noise.clone();
            for block in x.chunks_mut(512) {
                e.process(&mut [block]);
            }
            assert!(x.iter().all(|v| v.is_finite()));
            let l = e.latency_samples();
            let e = |v: &[f32]| v.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>();
            10.0 * (e(&x[len / 2..]) / e(&noise[len / 2 - l..len - l])).log10()
        };
        let (at_48, at_96) = (reduction_db(48_000.0), reduction_db(96_000.0));
        assert!(at_48 < -10.0, "48 kHz: {at_48:.1} dB");
        assert!(
            (at_96 - at_48).abs() < 3.0,
            "96 kHz {at_96:.1} dB, 48 kHz {at_48:.1} dB"
        );
    }
}
