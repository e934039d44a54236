//! Quell as a VST3 and CLAP plugin: a thin [nice-plug] adapter over the [`quell_dsp`] engine.
//!
//! One file per concern, in the order audio meets them:
//!
//! 1. [`params`]: the parameters (stable ids, ranges, units) and their values as processor [`PluginSettings`].
//! 2. [`processor`]: the plain-Rust adapter around the engine (dry path delayed by the latency, mix and bypass
//!    crossfades, pass-through when the engine cannot run). Tested without a host.
//! 3. [`delay`]: the dry path's delay line.
//! 4. [`meters`]: meter data, audio thread → editor, lock-free.
//! 5. [`state`]: migration and repair of saved states (`filter_state`).
//! 6. [`editor`]: the egui editor.
//!
//! The plugin builds everything that allocates in `activate` (the engine with its FFT plans, the dry delay,
//! the quantized network, once) and reports the engine's latency there. `process` neither allocates nor locks:
//! debug builds enable nice-plug's `assert_process_allocs`, which aborts on any allocation in `process`.
//!
//! [nice-plug]: https://crates.io/crates/nice-plug

#![warn(missing_docs)]

pub mod delay;
pub mod editor;
pub mod meters;
pub mod params;
pub mod processor;
pub mod state;

use meters::{MeterFrame, MeterTap, SharedMeters};
use nice_plug::prelude::*;
use params::QuellParams;
pub use processor::{PluginSettings, Processor};
use quell_dsp::neural::NeuralMask;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Name of the second output port, which carries what is removed.
pub const AMBIENCE_PORT_NAME: &str = "Ambience";

/// How quickly the CPU-share meter follows, as the weight of the newest block (per block, 0..=1).
const CPU_SMOOTHING: f32 = 0.05;

/// The plugin instance. Created by the host through `Default` (cheap: no engine, no model yet).
pub struct Quell {
    params: Arc<QuellParams>,
    meters: Arc<SharedMeters>,
    producer: rtrb::Producer<MeterFrame>,
    /// `None` until the first `activate`; audio passes through untouched until then.
    processor: Option<Processor>,
    /// The quantized network, built at the first `activate` and cloned into each new engine.
    model: Option<NeuralMask>,
    model_loaded: bool,
}

impl Default for Quell {
    fn default() -> Self {
        let (meters, producer) = SharedMeters::new();
        Quell {
            params: Arc::new(QuellParams::default()),
            meters: Arc::new(meters),
            producer,
            processor: None,
            model: None,
            model_loaded: false,
        }
    }
}

impl Quell {
    /// Loads the model compiled into the build, once. Allocates (main thread, in `activate`).
    fn ensure_model(&mut self) {
        if self.model_loaded {
            return;
        }
        self.model_loaded = true;
        self.model = match quell_dsp::neural::shipped_weights() {
            Some(Ok(weights)) => Some(NeuralMask::new(&weights)),
            Some(Err(e)) => {
                nice_warn!("the built-in model does not load ({e}); neural mode runs as classic");
                None
            }
            None => None,
        };
        self.meters
            .model_loaded
            .store(self.model.is_some(), Ordering::Relaxed);
    }
}

impl Plugin for Quell {
    const NAME: &'static str = "Quell";
    const VENDOR: &'static str = "Quell";
    const URL: &'static str = "https://example.invalid/quell";
    const EMAIL: &'static str = "quell@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // The first two layouts (the defaults: stereo, then mono) have the main ports only. The last two add a second
    // output port, "Ambience", with as many channels as the main one, carrying what is removed (the signal of
    // listen *removed*); a CLAP host offers them as audio port configurations. They are not the default because
    // nice-plug's VST3 wrapper supports no bus activation and skips `process` when a host leaves an output bus
    // without buffers, as JUCE-based hosts do with a bus they do not use: the port would silence the plugin
    // there. A VST3 host reaches them only by asking for two output buses itself.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            aux_output_ports: &[new_nonzero_u32(2)],
            names: PortNames {
                layout: Some("Stereo with ambience"),
                main_input: Some("Input"),
                main_output: Some("Voice"),
                aux_inputs: &[],
                aux_outputs: &[AMBIENCE_PORT_NAME],
            },
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            aux_output_ports: &[new_nonzero_u32(1)],
            names: PortNames {
                layout: Some("Mono with ambience"),
                main_input: Some("Input"),
                main_output: Some("Voice"),
                aux_inputs: &[],
                aux_outputs: &[AMBIENCE_PORT_NAME],
            },
            ..AudioIOLayout::const_default()
        },
    ];

    type Editor = editor::QuellEditor;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        Some(editor::QuellEditor::new(
            self.params.clone(),
            self.meters.clone(),
        ))
    }

    fn filter_state(state: &mut PluginState) {
        let report = state::migrate(state);
        if report != state::MigrationReport::default() {
            nice_log!(
                "state from version {:?} migrated: {report:?}",
                state.version
            );
        }
    }

    fn activate(
        &mut self,
        audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.ensure_model();
        let channels = audio_io_layout
            .main_output_channels
            .map_or(2, |c| c.get() as usize);
        let mut processor = Processor::new(buffer_config.sample_rate, channels, self.model.clone());
        if let Some(e) = processor.error() {
            nice_warn!("Quell passes audio through untouched: {e}");
        }
        processor.jump_to(&self.params.settings());
        let latency = processor.latency_samples() as u32;
        context.set_latency_samples(latency);
        let m = &self.meters;
        m.latency_samples.store(latency, Ordering::Relaxed);
        m.sample_rate
            .store(processor.sample_rate(), Ordering::Relaxed);
        m.engine_ok
            .store(processor.error().is_none(), Ordering::Relaxed);
        if let Some(mode) = processor.effective_mode() {
            m.effective_mode.store(mode.code(), Ordering::Relaxed);
        }
        self.processor = Some(processor);
        true
    }

    fn reset(&mut self) {
        if let Some(p) = self.processor.as_mut() {
            p.reset();
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let Some(processor) = self.processor.as_mut() else {
            return ProcessStatus::Normal;
        };
        let settings = self.params.settings();
        let samples = buffer.samples();
        let open = self.meters.editor_open.load(Ordering::Relaxed);
        // The Ambience port, in the layouts that have it.
        let ambience = aux.outputs.first_mut().map(|b| b.as_slice());
        if open {
            let start = Instant::now();
            let mut tap = MeterTap {
                producer: &mut self.producer,
                shared: &self.meters,
            };
            processor.process_with_ambience(buffer.as_slice(), ambience, &settings, Some(&mut tap));
            let seconds = start.elapsed().as_secs_f32();
            let audio_seconds = samples as f32 / processor.sample_rate();
            if audio_seconds > 0.0 {
                let share = seconds / audio_seconds;
                let old = self.meters.cpu_share.load(Ordering::Relaxed);
                self.meters
                    .cpu_share
                    .store(old + (share - old) * CPU_SMOOTHING, Ordering::Relaxed);
            }
            if let Some(mode) = processor.effective_mode() {
                self.meters
                    .effective_mode
                    .store(mode.code(), Ordering::Relaxed);
            }
        } else {
            processor.process_with_ambience(buffer.as_slice(), ambience, &settings, None);
        }
        // After sound, the last samples are still inside the engine for one latency: ask to be kept running
        // (CLAP: continue; VST3: that tail). Once the input has been digitally silent for longer, the output is
        // exactly zero and the host may put the plugin to sleep (CLAP: continue if not quiet; VST3: no tail).
        match processor.tail_samples() {
            0 => ProcessStatus::Normal,
            n => ProcessStatus::Tail(n as u32),
        }
    }
}

impl ClapPlugin for Quell {
    const CLAP_ID: &'static str = "org.quell.quell";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("Real-time voice noise suppression");
    const CLAP_MANUAL_URL: Option<&'static str> = Some(Self::URL);
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Restoration,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for Quell {
    const VST3_CLASS_ID: [u8; 16] = *b"QuellVoiceNsSupr";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Restoration];
}

nice_export_clap!(Quell);
nice_export_vst3!(Quell);
