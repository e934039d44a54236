//! The adapter between a host's audio callback and the engine, in plain Rust (no plugin framework), so that
//! everything the plugin adds to the engine is tested without a host.
//!
//! Per block it: copies the input (the dry signal), runs the engine in place (the wet signal, delayed by the
//! engine's latency), delays the dry copy by exactly that latency ([`DelayLine`]) and blends the two with one
//! weight per sample, `w = mix · (1 − bypass)`:
//!
//! ```text
//! out = dry_delayed + (wet − dry_delayed) · w
//! ```
//!
//! `w = 0` gives exactly the delayed input (bit for bit), `w = 1` exactly the engine's output. The listen switch
//! then gives either that voice `y` or what is removed, `dry_delayed − y`, crossfaded over
//! [`LISTEN_RAMP_SECONDS`] (`out = y + (dry_delayed − 2y) · l`); bypass overrides it. Mix and bypass
//! move linearly over [`MIX_RAMP_SECONDS`] and [`BYPASS_RAMP_SECONDS`]: dry and wet are time-aligned and highly
//! correlated, so a linear crossfade keeps the level and has no click. The engine keeps running while bypassed
//! so that leaving bypass resumes from a settled noise estimate instead of re-adapting.
//!
//! Reduction, mode and gate need no smoother here: the engine applies them per 10 ms frame and its 50 %
//! overlap-add crossfades consecutive frames, and gains that fall are additionally limited by the engine's
//! release ([`quell_dsp::mask::RELEASE_PER_FRAME`]).
//!
//! If the engine cannot be built (a sample rate outside 8..=384 kHz, or an unsupported channel count), the
//! processor passes audio through untouched and reports a latency of 0: a plugin never aborts or goes silent.

use crate::delay::DelayLine;
use crate::meters::{peak, peak_of, MeterFrame, MeterTap};
use quell_dsp::neural::NeuralMask;
use quell_dsp::stft::sanitize;
use quell_dsp::{DspError, Engine, EngineConfig, MaskMode};

/// Duration of a dry/wet mix change, seconds.
pub const MIX_RAMP_SECONDS: f32 = 0.02;
/// Duration of the bypass crossfade, seconds.
pub const BYPASS_RAMP_SECONDS: f32 = 0.02;
/// Duration of the crossfade between listening to the voice and to what is removed, seconds.
pub const LISTEN_RAMP_SECONDS: f32 = 0.02;

/// The parameter values the processor applies: the engine's settings plus the plugin's mix and bypass. Plain
/// data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PluginSettings {
    /// Reduction, mode and gate, as the engine takes them.
    pub engine: quell_dsp::Settings,
    /// Dry/wet mix, 0 (dry) ..= 1 (fully processed) ([`crate::params::MIX`]).
    pub mix: f32,
    /// The host's bypass.
    pub bypass: bool,
    /// Whether the output carries what is removed (the delayed input minus the voice) instead of the voice.
    /// Bypass overrides it: a bypassed plugin always passes the delayed input.
    pub listen_removed: bool,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            engine: quell_dsp::Settings::DEFAULT,
            mix: crate::params::MIX.default,
            bypass: false,
            listen_removed: false,
        }
    }
}

/// A value that moves linearly towards its target over a fixed number of samples. Does not allocate.
#[derive(Debug, Clone, Copy)]
struct Ramp {
    value: f32,
    target: f32,
    step: f32,
    /// Samples for a full 0 → 1 move.
    length: f32,
}

impl Ramp {
    fn new(value: f32, length_samples: f32) -> Self {
        Ramp {
            value,
            target: value,
            step: 0.0,
            length: length_samples.max(1.0),
        }
    }

    fn set_target(&mut self, target: f32) {
        if target != self.target {
            self.target = target;
            // Full-scale moves take `length` samples; smaller ones proportionally less.
            self.step =
                (target - self.value) / (self.length * (target - self.value).abs()).max(1.0);
        }
    }

    fn jump(&mut self, value: f32) {
        self.value = value;
        self.target = value;
        self.step = 0.0;
    }

    fn is_settled(&self) -> bool {
        self.value == self.target
    }

    #[inline]
    fn next(&mut self) -> f32 {
        if self.value != self.target {
            let next = self.value + self.step;
            self.value = if (self.step > 0.0 && next >= self.target)
                || (self.step < 0.0 && next <= self.target)
                || self.step == 0.0
            {
                self.target
            } else {
                next
            };
        }
        self.value
    }
}

/// The engine plus everything the plugin adds around it. Built (allocating) in `activate`; [`Processor::process`]
/// never allocates, locks or does I/O.
pub struct Processor {
    engine: Option<Engine>,
    /// Why the engine could not be built, if it could not.
    error: Option<DspError>,
    dry: DelayLine,
    /// Per-channel copy of the current sub-block's input, `hop` samples each.
    scratch: Vec<Vec<f32>>,
    /// Per-sample bypass openness (1 − bypass) of the current sub-block while mix or bypass ramp, `hop` samples.
    open: Vec<f32>,
    channels: usize,
    sample_rate: f32,
    mix: Ramp,
    bypass: Ramp,
    listen: Ramp,
    applied: Option<PluginSettings>,
    last_frame: u64,
    /// Samples of digital silence (every channel exactly zero) at the input since the last sound, saturating.
    silent_run: usize,
}

impl Processor {
    /// Builds the processor for `sample_rate` (Hz) and `channels`, installing `model` if given. Never fails: when
    /// the engine cannot be built it passes audio through ([`Processor::error`] says why). Allocates.
    pub fn new(sample_rate: f32, channels: usize, model: Option<NeuralMask>) -> Self {
        let (mut engine, error) = match Engine::new(EngineConfig {
            sample_rate,
            channels,
        }) {
            Ok(engine) => (Some(engine), None),
            Err(e) => (None, Some(e)),
        };
        if let Some(engine) = engine.as_mut() {
            engine.set_model(model);
        }
        let latency = engine.as_ref().map_or(0, |e| e.latency_samples());
        let hop = engine.as_ref().map_or(1, |e| e.layout().hop);
        let rate = if sample_rate.is_finite() && sample_rate > 0.0 {
            sample_rate
        } else {
            48_000.0
        };
        let settings = PluginSettings::default();
        Processor {
            engine,
            error,
            dry: DelayLine::new(channels, latency),
            scratch: vec![vec![0.0; hop]; channels],
            open: vec![1.0; hop],
            channels,
            sample_rate: rate,
            mix: Ramp::new(settings.mix, MIX_RAMP_SECONDS * rate),
            bypass: Ramp::new(0.0, BYPASS_RAMP_SECONDS * rate),
            listen: Ramp::new(0.0, LISTEN_RAMP_SECONDS * rate),
            applied: None,
            last_frame: 0,
            // Nothing has gone in yet: the engine holds nothing to play out.
            silent_run: usize::MAX,
        }
    }

    /// How many more samples the processor must run for what it holds to come out, samples: the engine's tail
    /// ([`Engine::tail_samples`], two windows plus the longest pitch lag: 2690 at 48 kHz) after any input that is
    /// not digital silence, counting down over silent input to 0, from which point the output is exactly zero
    /// for as long as the input stays silent and a host may put the plugin to sleep. 0 when passing through.
    /// Does not allocate.
    pub fn tail_samples(&self) -> usize {
        let Some(engine) = self.engine.as_ref() else {
            return 0;
        };
        let ramping =
            !(self.mix.is_settled() && self.bypass.is_settled() && self.listen.is_settled());
        if ramping {
            engine.tail_samples()
        } else {
            engine.tail_samples().saturating_sub(self.silent_run)
        }
    }

    /// The latency to report to the host, samples: the engine's (one 20 ms window), or 0 when passing through.
    pub fn latency_samples(&self) -> usize {
        self.dry.delay()
    }

    /// Why the engine could not be built (audio then passes through untouched), or `None`.
    pub fn error(&self) -> Option<&DspError> {
        self.error.as_ref()
    }

    /// The mask source actually running, or `None` when passing through.
    pub fn effective_mode(&self) -> Option<MaskMode> {
        self.engine.as_ref().map(|e| e.effective_mode())
    }

    /// The sample rate this processor was built for, Hz.
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// Sets all parameters at once so that the first block plays them without ramps (after activation or a
    /// state load). Does not allocate.
    pub fn jump_to(&mut self, settings: &PluginSettings) {
        self.apply(settings);
        self.mix.jump(clean_mix(settings.mix));
        self.bypass.jump(if settings.bypass { 1.0 } else { 0.0 });
        self.listen
            .jump(if settings.listen_removed { 1.0 } else { 0.0 });
    }

    /// Clears all audio history (engine, dry path, ramps settle on their targets). Does not allocate.
    pub fn reset(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            engine.reset();
        }
        self.dry.reset();
        self.last_frame = 0;
        self.silent_run = usize::MAX;
        self.mix.jump(self.mix.target);
        self.bypass.jump(self.bypass.target);
        self.listen.jump(self.listen.target);
    }

    fn apply(&mut self, s: &PluginSettings) {
        if self.applied.as_ref() == Some(s) {
            return;
        }
        if let Some(engine) = self.engine.as_mut() {
            engine.set_settings(&s.engine);
        }
        self.mix.set_target(clean_mix(s.mix));
        self.bypass.set_target(if s.bypass { 1.0 } else { 0.0 });
        self.listen
            .set_target(if s.listen_removed { 1.0 } else { 0.0 });
        self.applied = Some(*s);
    }

    /// Processes `audio` in place (one slice per channel, equal lengths, any length) with `settings`; when `tap`
    /// is given, also feeds the meters. Channels beyond the configured count are left untouched. Never
    /// allocates, locks or does I/O.
    pub fn process(
        &mut self,
        audio: &mut [&mut [f32]],
        settings: &PluginSettings,
        tap: Option<&mut MeterTap>,
    ) {
        self.process_with_ambience(audio, None, settings, tap);
    }

    /// As [`Processor::process`], and writes what is removed (the delayed input minus the voice, the signal of
    /// listen *removed*; silence while bypassed) to `ambience` when given: one slice per channel, each at
    /// least as long as `audio`'s. Channels of `ambience` beyond the configured count are zeroed. The main
    /// output is the same, bit for bit, with or without it. Never allocates, locks or does I/O.
    pub fn process_with_ambience(
        &mut self,
        audio: &mut [&mut [f32]],
        mut removed: Option<&mut [&mut [f32]]>,
        settings: &PluginSettings,
        mut tap: Option<&mut MeterTap>,
    ) {
        self.apply(settings);
        let Some(engine) = self.engine.as_mut() else {
            // Passing through, nothing is removed.
            if let Some(port) = removed {
                for r in port.iter_mut() {
                    r.fill(0.0);
                }
            }
            if let Some(tap) = tap {
                let p = peak(audio);
                tap.peaks(p, p);
            }
            return;
        };
        let used = audio.len().min(self.channels);
        let len = audio[..used].iter().map(|c| c.len()).min().unwrap_or(0);
        let silent = audio[..used]
            .iter()
            .all(|c| c[..len].iter().all(|&x| x == 0.0));
        self.silent_run = if silent {
            self.silent_run.saturating_add(len)
        } else {
            0
        };
        // A port shorter than the block (no host does this) is silenced and left out, rather than shortening
        // the main output.
        if removed
            .as_deref()
            .is_some_and(|p| p.iter().any(|c| c.len() < len))
        {
            for r in removed.take().into_iter().flatten() {
                r.fill(0.0);
            }
        }
        let mut pos = 0;
        while pos < len {
            // Sub-blocks end where the engine's frames do, so that at most one frame completes per sub-block.
            let n = (len - pos).min(engine.samples_until_frame());
            // Keep the dry input, then process the wet signal in place. The dry copy is sanitised as the engine
            // sanitises its own input (NaN/Inf become silence, ±1000 clamp), so that neither a mix below 100 %
            // nor the bypass crossfade lets a non-finite sample through.
            for (c, s) in self.scratch.iter_mut().enumerate() {
                if c < used {
                    for (d, x) in s[..n].iter_mut().zip(&audio[c][pos..pos + n]) {
                        *d = sanitize(*x);
                    }
                } else {
                    s[..n].fill(0.0);
                }
            }
            // The input peak of this sub-block only (earlier sub-blocks of `audio` already hold output).
            let in_peak = if tap.is_some() {
                peak_of(self.scratch[..used].iter().flat_map(|c| &c[..n]))
            } else {
                0.0
            };
            {
                let mut chunk: [&mut [f32]; quell_dsp::engine::MAX_CHANNELS] = Default::default();
                for (dst, src) in chunk.iter_mut().zip(audio[..used].iter_mut()) {
                    *dst = &mut src[pos..pos + n];
                }
                engine.process(&mut chunk[..used]);
            }
            {
                let mut dry: [&mut [f32]; quell_dsp::engine::MAX_CHANNELS] = Default::default();
                for (dst, src) in dry.iter_mut().zip(self.scratch.iter_mut()) {
                    *dst = &mut src[..n];
                }
                self.dry.process(&mut dry[..self.channels]);
            }
            // Blend with one weight per sample: y = d + (wet − d) · w (the voice, in place), then the ambience
            // port d − y, then the listen switch, out = y + (d − 2y) · l (l = 0: the voice y; l = 1: what is
            // removed, d − y), with l off under bypass.
            let ramping = !(self.mix.is_settled() && self.bypass.is_settled());
            if !ramping {
                let w = self.mix.value * (1.0 - self.bypass.value);
                if w == 0.0 {
                    for (c, io) in audio[..used].iter_mut().enumerate() {
                        io[pos..pos + n].copy_from_slice(&self.scratch[c][..n]);
                    }
                } else if w != 1.0 {
                    for (c, io) in audio[..used].iter_mut().enumerate() {
                        for (y, d) in io[pos..pos + n].iter_mut().zip(&self.scratch[c][..n]) {
                            *y = d + (*y - d) * w;
                        }
                    }
                }
            } else {
                for i in 0..n {
                    let open = 1.0 - self.bypass.next();
                    self.open[i] = open;
                    let w = self.mix.next() * open;
                    for (c, io) in audio[..used].iter_mut().enumerate() {
                        let d = self.scratch[c][i];
                        io[pos + i] = d + (io[pos + i] - d) * w;
                    }
                }
            }
            if let Some(port) = removed.as_deref_mut() {
                for (c, r) in port.iter_mut().enumerate() {
                    let r = &mut r[pos..pos + n];
                    if c < used {
                        for ((r, y), d) in r
                            .iter_mut()
                            .zip(&audio[c][pos..pos + n])
                            .zip(&self.scratch[c][..n])
                        {
                            *r = d - y;
                        }
                    } else {
                        r.fill(0.0);
                    }
                }
            }
            if self.listen.is_settled() && !ramping {
                let l = self.listen.value * (1.0 - self.bypass.value);
                if l == 1.0 {
                    for (c, io) in audio[..used].iter_mut().enumerate() {
                        for (y, d) in io[pos..pos + n].iter_mut().zip(&self.scratch[c][..n]) {
                            *y = d - *y;
                        }
                    }
                } else if l != 0.0 {
                    for (c, io) in audio[..used].iter_mut().enumerate() {
                        for (y, d) in io[pos..pos + n].iter_mut().zip(&self.scratch[c][..n]) {
                            *y += (d - 2.0 * *y) * l;
                        }
                    }
                }
            } else {
                for i in 0..n {
                    let open = if ramping {
                        self.open[i]
                    } else {
                        1.0 - self.bypass.value
                    };
                    let l = self.listen.next() * open;
                    for (c, io) in audio[..used].iter_mut().enumerate() {
                        let (y, d) = (io[pos + i], self.scratch[c][i]);
                        io[pos + i] = y + (d - 2.0 * y) * l;
                    }
                }
            }
            if let Some(tap) = tap.as_deref_mut() {
                let info = engine.frame_info();
                if info.frame_index != self.last_frame {
                    self.last_frame = info.frame_index;
                    tap.frame(MeterFrame::from_info(info));
                }
                let out_peak = peak_of(audio[..used].iter().flat_map(|c| &c[pos..pos + n]));
                tap.peaks(in_peak, out_peak);
            } else {
                self.last_frame = engine.frame_info().frame_index;
            }
            pos += n;
        }
    }
}

fn clean_mix(mix: f32) -> f32 {
    if mix.is_finite() {
        mix.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quell_dsp::synth::Rng;

    fn noise(seed: u64, len: usize) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        quell_dsp::synth::white(&mut rng, len, -20.0)
    }

    fn settings(mix: f32, bypass: bool) -> PluginSettings {
        PluginSettings {
            engine: quell_dsp::Settings {
                mode: MaskMode::Classic,
                ..quell_dsp::Settings::DEFAULT
            },
            mix,
            bypass,
            listen_removed: false,
        }
    }

    fn with_reduction(mut s: PluginSettings, db: f32) -> PluginSettings {
        s.engine.reduction_db = db;
        s
    }

    /// Runs `input` (mono) through `p` in blocks cycling through `blocks`, with `settings_at(sample)` per block.
    fn run(
        p: &mut Processor,
        input: &[f32],
        blocks: &[usize],
        settings_at: impl Fn(usize) -> PluginSettings,
    ) -> Vec<f32> {
        let mut out = input.to_vec();
        let mut pos = 0;
        for &b in blocks.iter().cycle() {
            if pos >= out.len() {
                break;
            }
            let end = (pos + b).min(out.len());
            p.process(&mut [&mut out[pos..end]], &settings_at(pos), None);
            pos = end;
        }
        out
    }

    #[test]
    fn reported_latency_equals_the_impulse_delay() {
        for rate in [44_100.0, 48_000.0, 96_000.0, 22_050.0] {
            let mut p = Processor::new(rate, 1, None);
            let s = with_reduction(settings(1.0, false), 0.0);
            p.jump_to(&s);
            let mut x = vec![0.0; 8192];
            x[100] = 1.0;
            let y = run(&mut p, &x, &[37, 512, 1], |_| s);
            let (at, _) = y.iter().enumerate().fold((0, 0.0f32), |b, (i, v)| {
                if v.abs() > b.1 {
                    (i, v.abs())
                } else {
                    b
                }
            });
            assert_eq!(at - 100, p.latency_samples(), "rate {rate}");
            assert!((y[at] - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn mix_zero_is_the_input_delayed_by_the_latency_exactly() {
        let x = noise(1, 20_000);
        for blocks in [&[32usize][..], &[1, 7, 480, 4096], &[4096]] {
            let mut p = Processor::new(48_000.0, 1, None);
            p.jump_to(&settings(0.0, false));
            let y = run(&mut p, &x, blocks, |_| settings(0.0, false));
            let l = p.latency_samples();
            assert_eq!(l, 960);
            assert!(y[..l].iter().all(|&v| v == 0.0));
            assert_eq!(&y[l..], &x[..x.len() - l]);
        }
    }

    #[test]
    fn full_mix_equals_the_engine_alone() {
        let x = noise(2, 10_000);
        let mut p = Processor::new(48_000.0, 1, None);
        p.jump_to(&settings(1.0, false));
        let y = run(&mut p, &x, &[333], |_| settings(1.0, false));
        let mut e = Engine::new(EngineConfig {
            sample_rate: 48_000.0,
            channels: 1,
        })
        .unwrap();
        e.set_mode(MaskMode::Classic);
        let mut z = x.clone();
        e.process(&mut [&mut z[..]]);
        assert_eq!(y, z);
    }

    #[test]
    fn bypass_crossfades_without_clicks_to_the_delayed_input() {
        // A sine: the wet path barely changes it at 0 dB reduction, so any step in the output is the crossfade's.
        let rate = 48_000.0;
        let x: Vec<f32> = (0..48_000)
            .map(|i| 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / rate).sin())
            .collect();
        // Block boundaries (blocks of 64), where a host applies a parameter change.
        let on_at = 312 * 64;
        let off_at = 547 * 64;
        let at = |pos: usize| with_reduction(settings(1.0, (on_at..off_at).contains(&pos)), 24.0);
        let mut p = Processor::new(rate, 1, None);
        p.jump_to(&at(0));
        let y = run(&mut p, &x, &[64], at);
        let l = p.latency_samples();
        // Largest step of a 440 Hz sine of amplitude 0.5: 0.5 · 2π · 440 / 48000 ≈ 0.029.
        let max_step = y
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(max_step < 0.035, "step {max_step}");
        // Once the fade is over, bypass is the input delayed by exactly the latency.
        let fade = (BYPASS_RAMP_SECONDS * rate) as usize;
        for i in on_at + fade + 1..off_at {
            assert_eq!(y[i], x[i - l], "sample {i}");
        }
        // And it comes back to the engine's output afterwards.
        assert!(y[off_at + fade + 1..].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn mix_changes_ramp_instead_of_jumping() {
        let x = vec![0.25f32; 20_000];
        let at = |pos: usize| settings(if pos < 10_000 { 1.0 } else { 0.0 }, false);
        let mut p = Processor::new(48_000.0, 1, None);
        p.jump_to(&at(0));
        let y = run(&mut p, &x, &[100], at);
        let max_step = y[2000..]
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(max_step < 0.01, "step {max_step}");
        assert_eq!(y[19_999], 0.25);
    }

    #[test]
    fn unsupported_rates_pass_audio_through_untouched() {
        for rate in [4_000.0, 768_000.0, f32::NAN, 0.0] {
            let mut p = Processor::new(rate, 2, None);
            assert_eq!(p.latency_samples(), 0);
            assert!(p.error().is_some());
            let x = noise(3, 1000);
            let (mut l, mut r) = (x.clone(), x.clone());
            p.process(&mut [&mut l, &mut r], &settings(1.0, false), None);
            assert_eq!(l, x);
            assert_eq!(r, x);
        }
    }

    #[test]
    fn stereo_channels_stay_aligned_and_extra_channels_are_untouched() {
        let x = noise(4, 9_600);
        let mut p = Processor::new(48_000.0, 2, None);
        p.jump_to(&settings(0.0, false));
        let (mut l, mut r, mut extra) = (x.clone(), x.clone(), x.clone());
        p.process(
            &mut [&mut l, &mut r, &mut extra],
            &settings(0.0, false),
            None,
        );
        assert_eq!(l, r);
        assert_eq!(&l[960..], &x[..x.len() - 960]);
        assert_eq!(extra, x);
    }

    #[test]
    fn meters_get_one_frame_per_hop() {
        let (shared, mut producer) = crate::meters::SharedMeters::new();
        let mut p = Processor::new(48_000.0, 1, None);
        p.jump_to(&settings(1.0, false));
        let mut x = noise(5, 4_800);
        for block in x.chunks_mut(700) {
            let mut tap = MeterTap {
                producer: &mut producer,
                shared: &shared,
            };
            p.process(&mut [block], &settings(1.0, false), Some(&mut tap));
        }
        assert_eq!(shared.drain_frames(|_| ()), 10);
        let (i, _) = shared.take_peaks();
        assert!(i > 0.0);
    }

    #[test]
    fn the_input_meter_reads_the_input_in_blocks_of_many_hops() {
        let (shared, mut producer) = crate::meters::SharedMeters::new();
        let mut p = Processor::new(48_000.0, 1, None);
        p.jump_to(&settings(1.0, false));
        let mut x = noise(6, 4_800);
        // The loudest input sample sits late in a block of ten hops: the meter must read every sub-block's input.
        x[4_000] = 0.9;
        let expected = 0.9;
        let mut tap = MeterTap {
            producer: &mut producer,
            shared: &shared,
        };
        p.process(&mut [&mut x[..]], &settings(1.0, false), Some(&mut tap));
        let (i, o) = shared.take_peaks();
        assert_eq!(i, expected);
        assert!(o < i);
    }

    #[test]
    fn non_finite_input_never_reaches_the_output_through_the_dry_path() {
        for (mix, bypass) in [(0.5, false), (0.0, false), (1.0, true)] {
            let mut p = Processor::new(48_000.0, 2, None);
            p.jump_to(&settings(mix, bypass));
            let mut x = noise(3, 9_600);
            for i in (100..9_600).step_by(97) {
                x[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][i % 3];
            }
            let mut left = x.clone();
            let mut right = x.clone();
            p.process(
                &mut [&mut left[..], &mut right[..]],
                &settings(mix, bypass),
                None,
            );
            assert!(
                left.iter().chain(&right).all(|v| v.is_finite()),
                "mix {mix} bypass {bypass}"
            );
            // Toggling bypass (a crossfade through the dry path) stays finite too.
            let mut y = x.clone();
            p.process(&mut [&mut y[..]], &settings(mix, !bypass), None);
            assert!(y.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn listening_to_the_removed_part_plus_the_voice_gives_the_delayed_input() {
        for rate in [44_100.0, 48_000.0, 96_000.0] {
            for blocks in [&[64usize][..], &[37, 512, 1], &[4096]] {
                let x: Vec<f32> = noise(9, (rate * 0.6) as usize)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v + 0.3 * (i as f32 * 0.05).sin())
                    .collect();
                let play = |removed: bool| {
                    let s = PluginSettings {
                        listen_removed: removed,
                        ..settings(0.8, false)
                    };
                    let mut p = Processor::new(rate, 1, None);
                    p.jump_to(&s);
                    (run(&mut p, &x, blocks, |_| s), p.latency_samples())
                };
                let ((voice, l), (removed, _)) = (play(false), play(true));
                let err = (l..x.len())
                    .map(|i| (voice[i] + removed[i] - x[i - l]).abs())
                    .fold(0.0f32, f32::max);
                assert!(err < 1e-5, "rate {rate} blocks {blocks:?}: {err}");
                // What is removed is not silence (there is noise to remove) and not the whole input.
                let e = |v: &[f32]| v[l..].iter().map(|a| a * a).sum::<f32>();
                assert!(e(&removed) > 1e-3 * e(&voice) && e(&removed) < e(&x));
            }
        }
    }

    #[test]
    fn switching_what_is_heard_is_a_crossfade_and_bypass_overrides_it() {
        let rate = 48_000.0;
        let x: Vec<f32> = (0..48_000)
            .map(|i| 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / rate).sin())
            .collect();
        let at = |pos: usize| PluginSettings {
            listen_removed: pos >= 300 * 64,
            engine: quell_dsp::Settings {
                reduction_db: 0.0,
                ..quell_dsp::Settings::DEFAULT
            },
            ..settings(1.0, false)
        };
        let mut p = Processor::new(rate, 1, None);
        p.jump_to(&at(0));
        let y = run(&mut p, &x, &[64], at);
        // At 0 dB reduction the voice is the delayed input and what is removed is silence: the switch is a
        // 20 ms fade from one to the other, no step larger than the sine's own (0.029) plus the fade's.
        let steps = y
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        assert!(steps < 0.05, "largest step {steps}");
        let fade = (LISTEN_RAMP_SECONDS * rate) as usize;
        assert!(y[300 * 64 + fade + 10..].iter().all(|v| v.abs() < 1e-4));
        // Bypassed, the output is the delayed input whatever is being listened to.
        let bypassed = PluginSettings {
            bypass: true,
            ..at(1_000_000)
        };
        let mut p = Processor::new(rate, 1, None);
        p.jump_to(&bypassed);
        let y = run(&mut p, &x, &[64], |_| bypassed);
        let l = p.latency_samples();
        assert!((l..x.len()).all(|i| y[i] == x[i - l]));
    }

    #[test]
    fn a_fast_reduction_sweep_is_click_free() {
        // Voice in noise; the reduction automated from 0 to 60 dB within 50 ms (one step per 64-sample block),
        // and back. The engine applies it per 10 ms frame and its overlap-add crossfades frames, so no output step
        // may be larger than the largest step of the untouched (0 dB) output.
        let rate = 48_000.0;
        let voice = quell_dsp::synth::voice(rate, 2.0, &quell_dsp::synth::Voice::default());
        let x: Vec<f32> = voice
            .iter()
            .zip(noise(8, voice.len()))
            .map(|(v, n)| v + 0.1 * n)
            .collect();
        let (start, len) = (48_000usize, 2_400usize); // 50 ms at 48 kHz
        let at = |pos: usize| {
            let t = ((pos as f32 - start as f32) / len as f32).clamp(0.0, 1.0);
            let back = ((pos as f32 - (start + 24_000) as f32) / len as f32).clamp(0.0, 1.0);
            with_reduction(settings(1.0, false), 60.0 * (t - back))
        };
        let mut p = Processor::new(rate, 1, None);
        p.jump_to(&at(0));
        let y = run(&mut p, &x, &[64], at);
        let mut q = Processor::new(rate, 1, None);
        let flat = |_| with_reduction(settings(1.0, false), 0.0);
        q.jump_to(&flat(0));
        let reference = run(&mut q, &x, &[64], flat);
        let step = |v: &[f32]| {
            v.windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .fold(0.0f32, f32::max)
        };
        let (swept, untouched) = (step(&y), step(&reference));
        assert!(y.iter().all(|v| v.is_finite()));
        assert!(
            swept <= untouched * 1.05,
            "largest step {swept} against {untouched} without the sweep"
        );
        // And the sweep did act: the 60 dB stretch is quieter than the same stretch untouched.
        let e = |v: &[f32]| v[60_000..70_000].iter().map(|a| a * a).sum::<f32>();
        assert!(e(&y) < 0.5 * e(&reference));
    }

    #[test]
    fn the_ambience_port_carries_what_listen_removed_plays_and_leaves_the_voice_alone() {
        for channels in [1usize, 2] {
            for blocks in [&[64usize][..], &[37, 512, 1], &[4096]] {
                let x: Vec<Vec<f32>> = (0..channels)
                    .map(|c| {
                        noise(20 + c as u64, 28_800)
                            .iter()
                            .enumerate()
                            .map(|(i, v)| v + 0.3 * (i as f32 * 0.03).sin())
                            .collect()
                    })
                    .collect();
                // Mix 80 % and a bypass that comes and goes, so that ramps are covered too.
                let at = |pos: usize, removed: bool| PluginSettings {
                    listen_removed: removed,
                    ..settings(0.8, (9_600..14_400).contains(&pos))
                };
                let play = |removed: bool, port: bool| {
                    let mut p = Processor::new(48_000.0, channels, None);
                    p.jump_to(&at(0, removed));
                    let mut out = x.clone();
                    let mut amb = vec![vec![f32::NAN; x[0].len()]; channels];
                    let mut pos = 0;
                    for &b in blocks.iter().cycle() {
                        if pos >= out[0].len() {
                            break;
                        }
                        let end = (pos + b).min(out[0].len());
                        let mut io: Vec<&mut [f32]> =
                            out.iter_mut().map(|c| &mut c[pos..end]).collect();
                        let mut a: Vec<&mut [f32]> =
                            amb.iter_mut().map(|c| &mut c[pos..end]).collect();
                        let s = at(pos, removed);
                        if port {
                            p.process_with_ambience(&mut io, Some(&mut a), &s, None);
                        } else {
                            p.process(&mut io, &s, None);
                        }
                        pos = end;
                    }
                    (out, amb)
                };
                let (voice, ambience) = play(false, true);
                let (voice_alone, _) = play(false, false);
                let (removed, _) = play(true, false);
                assert_eq!(
                    voice, voice_alone,
                    "{channels} ch {blocks:?}: the port changed the voice"
                );
                for c in 0..channels {
                    assert!(ambience[c].iter().all(|v| v.is_finite()));
                    // Outside the bypass and its fades, the port is what listen removed plays, bit for bit.
                    let settled = (0..9_600).chain(20_000..x[0].len());
                    for i in settled {
                        assert_eq!(
                            ambience[c][i], removed[c][i],
                            "{channels} ch {blocks:?} sample {i}"
                        );
                    }
                    // Bypassed, nothing is removed.
                    assert!(ambience[c][13_300..14_400].iter().all(|&v| v == 0.0));
                }
            }
        }
    }

    #[test]
    fn the_tail_counts_down_over_digital_silence() {
        let mut p = Processor::new(48_000.0, 2, None);
        let s = settings(1.0, false);
        p.jump_to(&s);
        assert_eq!(p.tail_samples(), 0, "a fresh processor holds nothing");
        let mut a = noise(30, 4_800);
        let mut b = a.clone();
        p.process(&mut [&mut a[..], &mut b[..]], &s, None);
        let tail = Engine::new(EngineConfig {
            sample_rate: 48_000.0,
            channels: 2,
        })
        .unwrap()
        .tail_samples();
        assert_eq!(p.tail_samples(), tail);
        assert!(tail > p.latency_samples());
        // Silence: the tail shrinks by each block, and once it is 0 the output is exactly zero.
        let mut left = tail;
        let mut zero_out = 0;
        for _ in 0..60 {
            let (mut a, mut b) = (vec![0.0f32; 100], vec![0.0f32; 100]);
            p.process(&mut [&mut a[..], &mut b[..]], &s, None);
            if left == 0 {
                assert!(
                    a.iter().chain(&b).all(|&v| v == 0.0),
                    "sound after the tail"
                );
                zero_out += 1;
            }
            left = left.saturating_sub(100);
            assert_eq!(p.tail_samples(), left);
        }
        assert!(zero_out > 20);
        // Sound on one channel only restarts it.
        let (mut a, mut b) = (vec![0.0f32; 64], vec![0.0f32; 64]);
        b[63] = 1e-6;
        p.process(&mut [&mut a[..], &mut b[..]], &s, None);
        assert_eq!(p.tail_samples(), tail);
        // A mix change in progress keeps it running too.
        let mut a = vec![0.0f32; 4_000];
        let mut b = a.clone();
        p.process(&mut [&mut a[..], &mut b[..]], &s, None);
        assert_eq!(p.tail_samples(), 0);
        let mut a = vec![0.0f32; 64];
        let mut b = a.clone();
        p.process(&mut [&mut a[..], &mut b[..]], &settings(0.5, false), None);
        assert!(p.tail_samples() > 0);
    }
}
