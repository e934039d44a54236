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
        // The plugin's layouts: 0 = stereo, 1 = mono.
        let id = if channels == 2 { 0 } else { 1 };
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
    fn run(
        &mut self,
        rate: f64,
        input: &[Vec<f32>],
        blocks: &[usize],
        set: &[ParamSet],
    ) -> (u32, Vec<Vec<f32>>) {
        let channels = input.len();
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
        let len = input[0].len();
        let mut output = vec![vec![0.0f32; len]; channels];
        let mut scratch_in = input.to_vec();
        let processor = std::thread::scope(|s| {
            s.spawn(|| {
                let mut processor = processor.start_processing().expect("starts processing");
                let mut input_ports = AudioPorts::with_capacity(channels, 1);
                let mut output_ports = AudioPorts::with_capacity(channels, 1);
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
                    let mut out_buffers = output_ports.with_output_buffers([AudioPortBuffer {
                        latency: 0,
                        channels: AudioPortBufferType::f32_output_only(
                            output.iter_mut().map(|c| &mut c[pos..end]),
                        ),
                    }]);
                    let in_events = if first {
                        InputEvents::from_buffer(&events)
                    } else {
                        InputEvents::empty()
                    };
                    first = false;
                    processor
                        .process(
                            &in_buffers,
                            &mut out_buffers,
                            &in_events,
                            &mut OutputEvents::from_buffer(&mut out_events),
                            Some(pos as u64),
                            None,
                        )
                        .expect("process succeeds");
                    pos = end;
                }
                processor.stop_processing()
            })
            .join()
            .expect("audio thread")
        });
        self.instance.deactivate(processor);
        (latency, output)
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

/// The defaults (reduction 30 dB of 0..60, full mix, neural), for runs that follow others on one instance.
const DEFAULTS: [ParamSet; 3] = [("Reduction", 0.5), ("Mix", 1.0), ("Mode", 0.0)];

/// Block patterns hosts use, from 32 to 4096 samples, including odd sizes.
const BLOCKS: [&[usize]; 3] = [&[32], &[4096], &[37, 512, 1024, 32, 4096, 100, 480]];

#[test]
fn rates_layouts_and_block_sizes() {
    let mut plugin = Quell::load();
    let mut case = 0;
    for rate in [44_100.0, 48_000.0, 96_000.0] {
        for channels in [1usize, 2] {
            let blocks = BLOCKS[case % BLOCKS.len()];
            case += 1;
            let what = format!("{rate} Hz, {channels} ch, blocks {blocks:?}");
            let len = (rate * 2.5) as usize;
            let input = noise(case as u64, channels, len);

            // Noise in: finite out, and quieter once the noise estimate has settled.
            let (latency, out) = plugin.run(rate, &input, blocks, &DEFAULTS);
            assert_eq!(
                latency as usize,
                (rate * 0.02).round() as usize,
                "{what}: latency"
            );
            let tail = len - (rate * 1.0) as usize;
            for (c, (o, i)) in out.iter().zip(&input).enumerate() {
                assert!(
                    o.iter().all(|v| v.is_finite()),
                    "{what}: channel {c} not finite"
                );
                let drop_db = 10.0
                    * (energy(&o[tail..])
                        / energy(&i[tail - latency as usize..len - latency as usize]))
                    .log10();
                assert!(
                    drop_db < -6.0,
                    "{what}: channel {c} only {drop_db:.1} dB quieter"
                );
            }

            // An impulse with the reduction at 0 dB comes out exactly `latency` samples later.
            let mut impulse = vec![vec![0.0f32; (rate * 0.2) as usize]; channels];
            for c in &mut impulse {
                c[1000] = 0.5;
            }
            let (_, out) = plugin.run(rate, &impulse, blocks, &[("Reduction", 0.0), ("Mix", 1.0)]);
            for o in &out {
                let peak = o.iter().enumerate().fold((0, 0.0f32), |b, (i, v)| {
                    if v.abs() > b.1 {
                        (i, v.abs())
                    } else {
                        b
                    }
                });
                assert_eq!(peak.0 - 1000, latency as usize, "{what}: impulse delay");
                assert!(
                    (peak.1 - 0.5).abs() < 1e-3,
                    "{what}: impulse level {}",
                    peak.1
                );
            }

            // Mix 0 %: the input delayed by the reported latency, bit for bit. The parameter is set in a short
            // run first, so that the measured run starts at 0 % instead of ramping there from 100 %.
            let set = [("Reduction", 0.5), ("Mix", 0.0)];
            plugin.run(rate, &vec![vec![0.0; 64]; channels], &[64], &set);
            let (_, out) = plugin.run(rate, &input, blocks, &[]);
            let l = latency as usize;
            for (o, i) in out.iter().zip(&input) {
                assert!(o[..l].iter().all(|v| *v == 0.0), "{what}: mix 0 head");
                assert!(
                    o[l..] == i[..len - l],
                    "{what}: mix 0 is not the delayed input"
                );
            }
        }
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
