//! Quell in a real CLAP host: a small host built on `clack-host` loads the plugin's shared library through the
//! CLAP entry point, exactly as a DAW does, and drives it over the rates, layouts and block sizes hosts use.
//!
//! Which library is loaded:
//! - `QUELL_CLAP=/path/to/Quell.clap` if set (e.g. the release bundle made by `cargo xtask bundle quell --release`);
//! - otherwise the library cargo built for this test run (`target/<profile>/deps/libquell_plugin.so`; cargo builds
//!   the crate's `cdylib` with the library every integration test depends on). In a debug build that library
//!   has nice-plug's `assert_process_allocs` on, so these tests also prove that `process` never allocates: an
//!   allocation there aborts the test process.
//!
//! Signals are generated and seeded; no audio file is read.

use clack_extensions::audio_ports_config::PluginAudioPortsConfig;
use clack_extensions::latency::{HostLatency, HostLatencyImpl, PluginLatency};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::ParamValueEvent;
use clack_host::events::Pckn;
use clack_host::prelude::*;
use quell_dsp::synth::{pink, white, Rng};
use std::cell::Cell;
use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

const PLUGIN_ID: &CStr = c"org.quell.quell";

/// The host's thread-safe side: remembers a restart request (deactivate, then activate again), which a plugin
/// makes to change its latency.
#[derive(Default)]
struct Shared {
    restart_requested: AtomicBool,
}

impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {
        self.restart_requested.store(true, Ordering::SeqCst);
    }
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

/// The host's main-thread side: counts the plugin's "latency changed" notifications, as a DAW listens for them
/// to update its delay compensation.
#[derive(Default)]
struct MainThread {
    latency_changes: Cell<u32>,
}

impl MainThreadHandler<'_> for MainThread {}

impl HostLatencyImpl for MainThread {
    fn changed(&self) {
        self.latency_changes.set(self.latency_changes.get() + 1);
    }
}

struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = MainThread;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostLatency>();
    }
}

fn library_path() -> PathBuf {
    if let Some(path) = std::env::var_os("QUELL_CLAP") {
        return PathBuf::from(path);
    }
    // This test runs from target/<profile>/deps/, where cargo builds the crate's cdylib for this test run. (The
    // copy in target/<profile>/ is only refreshed by `cargo build` and may be stale.)
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("target directory");
    let name = format!(
        "{}quell_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = deps.join(name);
    assert!(
        path.is_file(),
        "{} is missing: cargo builds it with the test; set QUELL_CLAP to a Quell.clap bundle instead",
        path.display()
    );
    path
}

/// A loaded plugin instance, and the CLAP ids of its parameters by name.
struct Quell {
    instance: PluginInstance<TestHost>,
    params: Vec<(String, ClapId, f64, f64)>,
    /// The latency the host last read, samples.
    known_latency: u32,
    /// Whether runs select the layout with the Ambience port (and connect it).
    ambience_port: bool,
    /// The Ambience port's output in the last [`Quell::run`], one Vec per channel (NaN when not connected).
    ambience: Vec<Vec<f32>>,
    /// The process status of every block of the last [`Quell::run`].
    statuses: Vec<ProcessStatus>,
}

/// A parameter value to send at the start of a run: name, and where in its range (0 = min, 1 = max).
type ParamSet<'a> = (&'a str, f64);

impl Quell {
    fn load() -> Quell {
        // The library stays loaded for the whole test process, as in a DAW: unloading it while other threads that
        // called into it still run would leave their thread-exit destructors pointing into unmapped code.
        static ENTRY: OnceLock<PluginEntry> = OnceLock::new();
        let entry = ENTRY.get_or_init(|| {
            let path = library_path();
            // SAFETY: loading a CLAP library runs its initialisation code; it is ours.
            unsafe { PluginEntry::load(&path) }
                .unwrap_or_else(|e| panic!("{} does not load: {e:?}", path.display()))
        });
        let host =
            HostInfo::new("quell-test-host", "Quell", "https://example.invalid", "0.1").unwrap();
        let mut instance = PluginInstance::<TestHost>::new(
            |_| Shared::default(),
            |_| MainThread::default(),
            entry,
            PLUGIN_ID,
            &host,
        )
        .expect("the plugin instantiates");
        let mut params = Vec::new();
        {
            let handle = instance.plugin_handle();
            let ext: PluginParams = handle.get_extension().expect("params extension");
            let mut buffer = ParamInfoBuffer::new();
            for i in 0..ext.count(&handle) {
                let info = ext.get_info(&handle, i, &mut buffer).expect("param info");
                params.push((
                    String::from_utf8_lossy(info.name).into_owned(),
                    info.id,
                    info.min_value,
                    info.max_value,
                ));
            }
        }
        Quell {
            instance,
            params,
            known_latency: 0,
            ambience_port: false,
            ambience: Vec::new(),
            statuses: Vec::new(),
        }
    }

    fn param(&self, name: &str) -> (ClapId, f64, f64) {
        let (_, id, min, max) = self
            .params
            .iter()
            .find(|(n, ..)| n == name)
            .unwrap_or_else(|| panic!("no parameter {name:?} in {:?}", self.params));
        (*id, *min, *max)
    }

    fn select_channels(&mut self, channels: usize) {
        let handle = self.instance.plugin_handle();
        let ext: PluginAudioPortsConfig = handle.get_extension().expect("audio ports config");
        // The plugin's layouts: 0 = stereo, 1 = mono, 2 and 3 the same with the Ambience port.
        let id = if channels == 2 { 0 } else { 1 } + if self.ambience_port { 2 } else { 0 };
        ext.select(&handle, ClapId::new(id))
            .expect("the layout is accepted");
    }

    fn save(&mut self) -> Vec<u8> {
        let handle = self.instance.plugin_handle();
        let ext: PluginState = handle.get_extension().expect("state extension");
        let mut bytes = Vec::new();
        ext.save(&handle, &mut bytes).expect("state saves");
        bytes
    }

    fn load_state(&mut self, mut bytes: &[u8]) -> bool {
        let handle = self.instance.plugin_handle();
        let ext: PluginState = handle.get_extension().expect("state extension");
        ext.load(&handle, &mut bytes).is_ok()
    }

    /// Activates at `rate`, reports the latency, processes `input` (one Vec per channel) in blocks cycling
    /// through `blocks` on an audio thread, with `set` sent as parameter events at the start, and deactivates.
    /// Returns the latency and the main output; the Ambience port's output and each block's process status are
    /// left in [`Quell::ambience`] and [`Quell::statuses`].
    fn run(
        &mut self,
        rate: f64,
        input: &[Vec<f32>],
        blocks: &[usize],
        set: &[ParamSet],
    ) -> (u32, Vec<Vec<f32>>) {
        let (latency, mut runs) = self.run_parts(rate, &[input], blocks, set);
        let run = runs.pop().expect("one part");
        self.ambience = run.ambience;
        self.statuses = run.statuses;
        (latency, run.output)
    }

    /// As [`Quell::run`], with each of `parts` played between its own `start_processing` and `stop_processing`,
    /// as a host does when it puts a plugin to sleep and wakes it.
    fn run_parts(
        &mut self,
        rate: f64,
        parts: &[&[Vec<f32>]],
        blocks: &[usize],
        set: &[ParamSet],
    ) -> (u32, Vec<Run>) {
        let channels = parts[0].len();
        self.select_channels(channels);
        let events: Vec<ParamValueEvent> = set
            .iter()
            .map(|(name, at)| {
                let (id, min, max) = self.param(name);
                ParamValueEvent::new(0, id, Pckn::match_all(), min + (max - min) * at)
            })
            .collect();
        let max_block = *blocks.iter().max().unwrap();
        let config = PluginAudioConfiguration {
            sample_rate: rate,
            min_frames_count: 1,
            max_frames_count: max_block as u32,
        };
        let mut processor = self
            .instance
            .activate(|_, _| (), config)
            .expect("the plugin activates");
        // As a DAW does: when the plugin asks for a restart (its latency changed while it was being activated),
        // deactivate and activate it again; it then tells the host that the latency changed.
        if self
            .instance
            .access_shared_handler(|s| s.restart_requested.swap(false, Ordering::SeqCst))
        {
            self.instance.deactivate(processor);
            processor = self
                .instance
                .activate(|_, _| (), config)
                .expect("the plugin activates again");
        }
        let notified = self
            .instance
            .access_handler(|h| h.latency_changes.replace(0));
        let latency = {
            let handle = self.instance.plugin_handle();
            let ext: PluginLatency = handle.get_extension().expect("latency extension");
            ext.get(&handle)
        };
        assert!(
            latency == self.known_latency || notified > 0,
            "the latency changed from {} to {latency} without telling the host",
            self.known_latency
        );
        self.known_latency = latency;
        let ambience_port = self.ambience_port;
        let (processor, runs) = std::thread::scope(|s| {
            s.spawn(|| {
                let mut processor = processor;
                let mut runs = Vec::new();
                let mut first = true;
                for input in parts {
                    let mut started = processor.start_processing().expect("starts processing");
                    let events = if first { &events[..] } else { &[] };
                    first = false;
                    runs.push(play(&mut started, input, blocks, events, ambience_port));
                    processor = started.stop_processing();
                }
                (processor, runs)
            })
            .join()
            .expect("audio thread")
        });
        self.instance.deactivate(processor);
        (latency, runs)
    }
}

/// What one stretch of processing gave: the main output, the Ambience port's output (one Vec per channel each)
/// and the process status of every block.
struct Run {
    output: Vec<Vec<f32>>,
    ambience: Vec<Vec<f32>>,
    statuses: Vec<ProcessStatus>,
}

/// Processes `input` in blocks cycling through `blocks`, with `events` in the first block, and the Ambience
/// port connected when `ambience_port` (the layout with the port must be selected).
fn play(
    processor: &mut StartedPluginAudioProcessor<TestHost>,
    input: &[Vec<f32>],
    blocks: &[usize],
    events: &[ParamValueEvent],
    ambience_port: bool,
) -> Run {
    let channels = input.len();
    let len = input[0].len();
    let mut output = vec![vec![0.0f32; len]; channels];
    // Filled with a marker, so that a block the plugin does not write shows.
    let mut ambience = vec![vec![f32::NAN; len]; channels];
    let mut statuses = Vec::new();
    let mut scratch_in = input.to_vec();
    let mut input_ports = AudioPorts::with_capacity(channels, 1);
    let mut output_ports = AudioPorts::with_capacity(2 * channels, 2);
    let mut out_events = EventBuffer::new();
    let mut pos = 0;
    let mut first = true;
    for &b in blocks.iter().cycle() {
        if pos >= len {
            break;
        }
        let end = (pos + b).min(len);
        let in_buffers = input_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                scratch_in
                    .iter_mut()
                    .map(|c| InputChannel::variable(&mut c[pos..end])),
            ),
        }]);
        let mut ports = vec![AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                output
                    .iter_mut()
                    .map(|c| &mut c[pos..end])
                    .collect::<Vec<_>>(),
            ),
        }];
        if ambience_port {
            ports.push(AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_output_only(
                    ambience
                        .iter_mut()
                        .map(|c| &mut c[pos..end])
                        .collect::<Vec<_>>(),
                ),
            });
        }
        let mut out_buffers = output_ports.with_output_buffers(ports);
        let in_events = if first {
            InputEvents::from_buffer(&events)
        } else {
            InputEvents::empty()
        };
        first = false;
        let status = processor
            .process(
                &in_buffers,
                &mut out_buffers,
                &in_events,
                &mut OutputEvents::from_buffer(&mut out_events),
                Some(pos as u64),
                None,
            )
            .expect("process succeeds");
        statuses.push(status);
        pos = end;
    }
    Run {
        output,
        ambience,
        statuses,
    }
}

/// A state as nice-plug's CLAP wrapper writes it: the JSON's length (u64, little endian), then the JSON.
fn framed(json: &[u8]) -> Vec<u8> {
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(json);
    bytes
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v).powi(2)).sum()
}

fn noise(seed: u64, channels: usize, len: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..channels)
        .map(|_| {
            let mut x = pink(&mut rng, len, -32.0);
            for (v, w) in x.iter_mut().zip(white(&mut rng, len, -40.0)) {
                *v += w;
            }
            x
        })
        .collect()
}

/// The defaults (reduction 40 dB of 0..60, full mix, neural), for runs that follow others on one instance.
const DEFAULTS: [ParamSet; 3] = [("Reduction", 40.0 / 60.0), ("Mix", 1.0), ("Mode", 0.0)];

/// Block patterns hosts use, from 32 to 4096 samples, including odd sizes.
const BLOCKS: [&[usize]; 3] = [&[32], &[4096], &[37, 512, 1024, 32, 4096, 100, 480]];

/// Every rate the engine supports that hosts use, from 8 to 384 kHz.
const RATES: [f64; 10] = [
    8_000.0, 11_025.0, 22_050.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 176_400.0, 192_000.0,
    384_000.0,
];

/// Where the largest magnitude of `x` is, and that magnitude.
fn peak(x: &[f32]) -> (usize, f32) {
    x.iter().enumerate().fold(
        (0, 0.0f32),
        |b, (i, v)| {
            if v.abs() > b.1 {
                (i, v.abs())
            } else {
                b
            }
        },
    )
}

#[test]
fn rates_layouts_and_block_sizes() {
    let mut plugin = Quell::load();
    let mut case = 0;
    for rate in RATES {
        for channels in [1usize, 2] {
            let blocks = BLOCKS[case % BLOCKS.len()];
            // Every other case in the layout with the Ambience port, connected.
            plugin.ambience_port = case % 2 == 0;
            case += 1;
            let what = format!(
                "{rate} Hz, {channels} ch, blocks {blocks:?}, ambience port {}",
                plugin.ambience_port
            );
            let len = (rate * 2.5) as usize;
            let input = noise(case as u64, channels, len);

            // An impulse with the reduction at 0 dB comes out exactly the reported latency later.
            let mut impulse = vec![vec![0.0f32; (rate * 0.2) as usize]; channels];
            for c in &mut impulse {
                c[1000] = 0.5;
            }
            let (latency, out) =
                plugin.run(rate, &impulse, blocks, &[("Reduction", 0.0), ("Mix", 1.0)]);
            for o in &out {
                let (at, level) = peak(o);
                assert_eq!(at - 1000, latency as usize, "{what}: impulse delay");
                assert!((level - 0.5).abs() < 1e-3, "{what}: impulse level {level}");
            }
            if rate == 22_050.0 {
                // The window is an even number of samples: 442, not round(22050 × 0.02) = 441.
                assert_eq!(latency, 442, "{what}: latency");
            }

            // Noise in: finite out, and quieter once the noise estimate has settled.
            let (l, out) = plugin.run(rate, &input, blocks, &DEFAULTS);
            assert_eq!(l, latency, "{what}: latency changed with the settings");
            let l = latency as usize;
            let tail = len - (rate * 1.0) as usize;
            for (c, (o, i)) in out.iter().zip(&input).enumerate() {
                assert!(
                    o.iter().all(|v| v.is_finite()),
                    "{what}: channel {c} not finite"
                );
                let drop_db = 10.0 * (energy(&o[tail..]) / energy(&i[tail - l..len - l])).log10();
                assert!(
                    drop_db < -6.0,
                    "{what}: channel {c} only {drop_db:.1} dB quieter"
                );
            }
            // The Ambience port: the voice plus what is removed is the delayed input.
            let ambience = if plugin.ambience_port {
                &plugin.ambience[..]
            } else {
                &[]
            };
            for (c, ((o, a), i)) in out.iter().zip(ambience).zip(&input).enumerate() {
                let err = (l..len)
                    .map(|k| (o[k] + a[k] - i[k - l]).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    err < 1e-5,
                    "{what}: channel {c} voice + ambience off by {err}"
                );
            }

            // Mix 0 % and bypass: the input delayed by the reported latency, bit for bit. Each is set in a short
            // run first, so that the measured run starts there instead of ramping from the previous value.
            for (name, set) in [
                ("mix 0", [("Reduction", 0.5), ("Mix", 0.0), ("Bypass", 0.0)]),
                (
                    "bypass",
                    [("Reduction", 0.5), ("Mix", 1.0), ("Bypass", 1.0)],
                ),
            ] {
                plugin.run(rate, &vec![vec![0.0; 64]; channels], &[64], &set);
                let (_, out) = plugin.run(rate, &input, blocks, &[]);
                for (o, i) in out.iter().zip(&input) {
                    assert!(o[..l].iter().all(|v| *v == 0.0), "{what}: {name} head");
                    assert!(
                        o[l..] == i[..len - l],
                        "{what}: {name} is not the delayed input"
                    );
                }
            }
            plugin.run(
                rate,
                &vec![vec![0.0; 64]; channels],
                &[64],
                &[("Bypass", 0.0)],
            );
        }
    }
}

#[test]
fn the_ambience_port_is_what_listen_removed_plays() {
    let rate = 48_000.0;
    let input = noise(77, 2, 72_000);
    let blocks: &[usize] = &[37, 512, 1024];
    let mut p = Quell::load();
    // Without the port (the default layout), the voice as with it.
    let (_, alone) = p.run(rate, &input, blocks, &DEFAULTS);
    p.ambience_port = true;
    let (_, voice) = p.run(rate, &input, blocks, &DEFAULTS);
    assert!(
        alone == voice,
        "connecting the Ambience port changed the main output"
    );
    let ambience = p.ambience.clone();
    assert!(
        ambience.iter().flatten().all(|v| v.is_finite()),
        "unwritten ambience"
    );
    // Set listen to removed in a short run first, so that the measured run starts there.
    p.run(rate, &vec![vec![0.0; 64]; 2], &[64], &[("Listen", 1.0)]);
    let (_, removed) = p.run(rate, &input, blocks, &[]);
    assert!(removed == ambience, "the port differs from listen removed");
    // Listening to what is removed leaves the port as it was, and the main output is the voice again after.
    assert!(p.ambience == ambience);
    p.run(rate, &vec![vec![0.0; 64]; 2], &[64], &[("Listen", 0.0)]);
    let (_, again) = p.run(rate, &input, blocks, &[]);
    assert!(again == voice);
    // There was noise to remove.
    assert!(energy(&ambience[0][24_000..]) > 10.0 * energy(&voice[0][24_000..]));
}

#[test]
fn the_plugin_may_sleep_after_silence_and_wakes_cleanly() {
    let rate = 48_000.0;
    let blocks: &[usize] = &[256];
    let (sound, silence) = (24_064usize, 24_064usize);
    let mut first = noise(5, 2, sound + silence);
    for c in &mut first {
        c[sound..].fill(0.0);
    }
    let wake = noise(6, 2, 48_000);
    let mut p = Quell::load();
    let (latency, runs) = p.run_parts(rate, &[&first, &wake], blocks, &DEFAULTS);
    let l = latency as usize;
    // While sound goes in, and for the engine's tail after it, the plugin asks to keep running...
    // Two windows plus the longest pitch lag the comb filter looks back (770 samples at 48 kHz).
    let tail = 2 * l + 770;
    let blocks_of = |samples: usize| samples.div_ceil(256);
    let statuses = &runs[0].statuses;
    for (k, s) in statuses.iter().enumerate() {
        let end = (k + 1) * 256;
        let expected = if end < sound + tail {
            ProcessStatus::Continue
        } else {
            ProcessStatus::ContinueIfNotQuiet
        };
        assert_eq!(*s, expected, "block {k} (samples ..{end})");
    }
    assert!(blocks_of(sound + tail) < statuses.len());
    // ...and once it says the host may stop it, its output is exactly zero.
    let quiet_from = (sound + tail).div_ceil(256) * 256;
    for c in &runs[0].output {
        assert!(
            c[quiet_from..].iter().all(|&v| v == 0.0),
            "sound after the tail"
        );
        assert!(
            c[sound..sound + l].iter().any(|&v| v != 0.0),
            "the delayed sound is missing"
        );
    }
    // Woken (stop, then start processing again): it plays exactly as a fresh instance does, nothing left of
    // before the sleep, the noise reduced.
    let (_, fresh) = Quell::load().run(rate, &wake, blocks, &DEFAULTS);
    let out = &runs[1].output;
    assert!(
        *out == fresh,
        "woken output differs from a fresh instance's"
    );
    for (c, o) in out.iter().enumerate() {
        let drop_db =
            10.0 * (energy(&o[36_000..]) / energy(&wake[c][36_000 - l..48_000 - l])).log10();
        assert!(
            drop_db < -6.0,
            "channel {c}: only {drop_db:.1} dB quieter after waking"
        );
    }
}

#[test]
fn parameter_changes_take_effect_and_state_round_trips_exactly() {
    let rate = 48_000.0;
    let input = noise(42, 2, 48_000);
    let blocks: &[usize] = &[256];
    let mut a = Quell::load();
    let (_, default_out) = a.run(rate, &input, blocks, &[]);
    let set = [("Reduction", 0.2), ("Mode", 1.0), ("Mix", 0.8)];
    let (_, changed) = a.run(rate, &input, blocks, &set);
    assert!(
        changed != default_out,
        "parameter changes made no difference"
    );
    // A stronger reduction removes more.
    let (_, strong) = a.run(rate, &input, blocks, &[("Reduction", 1.0), ("Mode", 1.0)]);
    let (_, weak) = a.run(rate, &input, blocks, &[("Reduction", 0.1), ("Mode", 1.0)]);
    assert!(energy(&strong[0][24_000..]) < energy(&weak[0][24_000..]) * 0.5);

    // Save after the changes; a fresh instance restored from it plays exactly the same.
    let (_, before) = a.run(rate, &input, blocks, &set);
    let state = a.save();
    let mut b = Quell::load();
    assert!(b.load_state(&state), "state loads");
    let (_, after) = b.run(rate, &input, blocks, &[]);
    assert!(
        after == before,
        "restored state does not reproduce the output"
    );
    assert_eq!(b.save(), state, "saved state differs after a round trip");
}

#[test]
fn damaged_state_never_breaks_the_plugin() {
    let rate = 48_000.0;
    let input = noise(7, 2, 24_000);
    let blocks: &[usize] = &[512];
    let mut reference = Quell::load();
    let (_, default_out) = reference.run(rate, &input, blocks, &[]);

    let mut p = Quell::load();
    // Not JSON at all: the load is refused, the plugin keeps working.
    assert!(!p.load_state(b"\x00\xffnot a state"));
    let (_, out) = p.run(rate, &input, blocks, &[]);
    assert!(out == default_out);
    // JSON with wrong, missing and out-of-range values: repaired to defaults.
    let damaged: &[u8] = br#"{"version":"0.0.1","params":{"reduction":{"f32":1e30},"mix":{"bool":true},"mode":{"string":"turbo"},"gate_thr":{"f32":-3.0},"zzz":{"i32":1}},"fields":{"editor-size":"{oops"}}"#;
    assert!(p.load_state(&framed(damaged)), "a repairable state loads");
    let (_, out) = p.run(rate, &input, blocks, &[]);
    assert!(out == default_out, "a repaired state plays as the defaults");
}

impl Quell {
    /// Every parameter's value as the host reads it (plain units), in the order of [`Quell::params`].
    fn values(&mut self) -> Vec<f64> {
        let handle = self.instance.plugin_handle();
        let ext: PluginParams = handle.get_extension().expect("params extension");
        self.params
            .iter()
            .map(|(name, id, ..)| {
                ext.get_value(&handle, *id)
                    .unwrap_or_else(|| panic!("{name} has no value"))
            })
            .collect()
    }
}

/// One seeded mutation of a saved state `good` (nice-plug's framing: JSON length, then JSON): random bytes,
/// a truncation, bit flips, or an edit of the JSON (values of the wrong type, out of range, non-finite, huge,
/// removed or duplicated), re-framed so that it reaches the plugin's repair.
fn mutate(good: &[u8], rng: &mut Rng) -> Vec<u8> {
    let json = &good[8..];
    let pick = |rng: &mut Rng, n: usize| (rng.next_u64() % n.max(1) as u64) as usize;
    match pick(rng, 6) {
        0 => (0..pick(rng, 400)).map(|_| pick(rng, 256) as u8).collect(),
        1 => good[..pick(rng, good.len())].to_vec(),
        2 => {
            let mut b = good.to_vec();
            for _ in 0..1 + pick(rng, 8) {
                let i = pick(rng, b.len());
                b[i] ^= 1 << pick(rng, 8);
            }
            b
        }
        3 => {
            // A bit flip inside the JSON, with a correct frame.
            let mut j = json.to_vec();
            let i = pick(rng, j.len());
            j[i] ^= 1 << pick(rng, 8);
            framed(&j)
        }
        _ => {
            let mut v: serde_json::Value = serde_json::from_slice(json).expect("a good state");
            let replacements = [
                serde_json::json!({"f32": 1e30}),
                serde_json::json!({"f32": -1e30}),
                serde_json::json!({"f32": "NaN"}),
                serde_json::json!({"bool": 3}),
                serde_json::json!({"i32": -7}),
                serde_json::json!({"i32": 99}),
                serde_json::json!({"string": "turbo"}),
                serde_json::json!({"string": ""}),
                serde_json::json!(null),
                serde_json::json!([1, 2, 3]),
                serde_json::json!("x".repeat(10_000)),
            ];
            if let Some(params) = v.get_mut("params").and_then(|p| p.as_object_mut()) {
                let keys: Vec<String> = params.keys().cloned().collect();
                for _ in 0..1 + pick(rng, 3) {
                    let key = &keys[pick(rng, keys.len())];
                    match pick(rng, 4) {
                        0 => {
                            params.remove(key);
                        }
                        _ => {
                            let r = replacements[pick(rng, replacements.len())].clone();
                            params.insert(key.clone(), r);
                        }
                    }
                }
            }
            if pick(rng, 3) == 0 {
                v["fields"]["editor-size"] = replacements[pick(rng, replacements.len())].clone();
            }
            if pick(rng, 4) == 0 {
                v["version"] = serde_json::json!(pick(rng, 1000));
            }
            framed(&serde_json::to_vec(&v).unwrap())
        }
    }
}

#[test]
fn mutated_states_never_break_the_plugin() {
    let rate = 48_000.0;
    let input = noise(8, 2, 9_600);
    let mut p = Quell::load();
    // A valid state after changes, the one every mutation starts from.
    p.run(
        rate,
        &input,
        &[512],
        &[("Reduction", 0.8), ("Mode", 1.0), ("Mix", 0.7)],
    );
    let good = p.save();
    let ranges: Vec<(f64, f64)> = p.params.iter().map(|(_, _, lo, hi)| (*lo, *hi)).collect();
    let mut rng = Rng::new(2026);
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..400 {
        // Start every case from a known state.
        assert!(p.load_state(&good));
        let before = p.values();
        let bytes = mutate(&good, &mut rng);
        let ok = p.load_state(&bytes);
        let after = p.values();
        if ok {
            loaded += 1;
            // Restored, and repaired: every value finite and within its range.
            for ((v, (lo, hi)), (name, ..)) in after.iter().zip(&ranges).zip(&p.params) {
                assert!(
                    v.is_finite() && *v >= *lo && *v <= *hi,
                    "case {case}: {name} = {v} after loading a mutated state"
                );
            }
        } else {
            refused += 1;
            assert_eq!(
                before, after,
                "case {case}: a refused state changed the parameters"
            );
        }
        // And it still plays: finite output (every 20th case, to keep the test short).
        if case % 20 == 0 {
            let (_, out) = p.run(rate, &input, &[512], &[]);
            assert!(out.iter().flatten().all(|v| v.is_finite()), "case {case}");
        }
    }
    // Both outcomes were exercised.
    assert!(
        loaded > 50 && refused > 50,
        "loaded {loaded}, refused {refused}"
    );
}
