//! Meter data from the audio thread to the editor, lock-free and one way.
//!
//! - Scalars (peak levels, CPU share, latency, the running mask source) go through atomics in [`SharedMeters`].
//!   Peaks accumulate with an atomic maximum on the audio thread and are taken (swapped to zero) by the editor,
//!   so no peak is lost between two repaints.
//! - Per-frame data (the 22 band gains and energies, speech probability, gate gain) goes through a wait-free
//!   single-producer single-consumer ring ([`rtrb`]) of plain [`MeterFrame`]s: the audio thread pushes one per
//!   10 ms engine frame and drops it when the ring is full; the editor drains the ring on every repaint.
//!
//! The audio thread only produces meter data while [`SharedMeters::editor_open`] is set, and it sends raw linear
//! values: the editor turns them into dB and pixels.

use atomic_float::AtomicF32;
use quell_dsp::bands::NB_BANDS;
use quell_dsp::FrameInfo;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;

/// Frames the ring holds: 2.56 s of 10 ms frames, far more than an editor misses between two repaints.
pub const FRAME_RING_CAPACITY: usize = 256;

/// What the engine decided for one 10 ms frame, as the editor needs it. Plain data, `Copy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterFrame {
    /// Gain applied per band, linear 0..=1 (includes the VAD gate).
    pub band_gains: [f32; NB_BANDS],
    /// Energy per band of the input mix, linear power (engine scaling).
    pub band_energy: [f32; NB_BANDS],
    /// Speech probability from the network, 0..=1 (0 in classic mode).
    pub vad: f32,
    /// Gain of the VAD gate, linear 0..=1.
    pub gate_gain: f32,
}

impl MeterFrame {
    /// Copies the meter fields out of an engine [`FrameInfo`]. Does not allocate.
    pub fn from_info(info: &FrameInfo) -> Self {
        MeterFrame {
            band_gains: info.band_gains,
            band_energy: info.band_energy,
            vad: info.vad,
            gate_gain: info.gate_gain,
        }
    }

    /// The frame's overall gain: the energy-weighted mean of the band power gains, linear power ratio 0..=1
    /// (1 when the frame is silent). For the gain-reduction history. Does not allocate.
    pub fn power_gain(&self) -> f32 {
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (g, e) in self.band_gains.iter().zip(&self.band_energy) {
            let (g, e) = (f64::from(*g), f64::from(*e));
            if g.is_finite() && e.is_finite() && e > 0.0 {
                num += e * g * g;
                den += e;
            }
        }
        if den > 1e-20 {
            (num / den).clamp(0.0, 1.0) as f32
        } else {
            1.0
        }
    }
}

/// State shared (through an `Arc`) by the plugin, its audio thread and the editor. Every field the audio thread
/// touches is an atomic; the one `Mutex` is only ever locked by the editor.
#[derive(Debug)]
pub struct SharedMeters {
    /// Set by the editor while its window exists. The audio thread produces meter data only while it is set.
    pub editor_open: AtomicBool,
    /// Largest absolute input sample since the editor last took it, linear.
    pub input_peak: AtomicF32,
    /// Largest absolute output sample since the editor last took it, linear.
    pub output_peak: AtomicF32,
    /// Processing time over the duration of the audio processed, smoothed (0.01 = 1 % of one core).
    pub cpu_share: AtomicF32,
    /// The latency reported to the host, samples.
    pub latency_samples: AtomicU32,
    /// The sample rate the plugin was activated at, Hz (0 before activation).
    pub sample_rate: AtomicF32,
    /// The mask source actually running ([`MaskMode::code`]): neural falls back to classic without a model.
    pub effective_mode: AtomicU8,
    /// False when the engine could not be built for the host's rate or layout: audio passes through untouched.
    pub engine_ok: AtomicBool,
    /// Whether a neural model is compiled in and loaded.
    pub model_loaded: AtomicBool,
    /// The consuming end of the frame ring, taken by the editor when it opens.
    frames: Mutex<Option<rtrb::Consumer<MeterFrame>>>,
}

impl SharedMeters {
    /// Creates the shared state and the frame ring; returns the producer end for the audio thread. Allocates.
    pub fn new() -> (Self, rtrb::Producer<MeterFrame>) {
        let (producer, consumer) = rtrb::RingBuffer::new(FRAME_RING_CAPACITY);
        (
            SharedMeters {
                editor_open: AtomicBool::new(false),
                input_peak: AtomicF32::new(0.0),
                output_peak: AtomicF32::new(0.0),
                cpu_share: AtomicF32::new(0.0),
                latency_samples: AtomicU32::new(0),
                sample_rate: AtomicF32::new(0.0),
                effective_mode: AtomicU8::new(0),
                engine_ok: AtomicBool::new(true),
                model_loaded: AtomicBool::new(false),
                frames: Mutex::new(Some(consumer)),
            },
            producer,
        )
    }

    /// Drains every frame produced since the last call into `sink` (editor side; locks a mutex the audio thread
    /// never touches). Returns the number of frames drained.
    pub fn drain_frames(&self, mut sink: impl FnMut(MeterFrame)) -> usize {
        let Ok(mut guard) = self.frames.lock() else {
            return 0;
        };
        let Some(consumer) = guard.as_mut() else {
            return 0;
        };
        let mut n = 0;
        while let Ok(frame) = consumer.pop() {
            sink(frame);
            n += 1;
        }
        n
    }

    /// Takes the input and output peaks accumulated since the last call (editor side), linear. Does not
    /// allocate.
    pub fn take_peaks(&self) -> (f32, f32) {
        (
            self.input_peak.swap(0.0, Ordering::Relaxed),
            self.output_peak.swap(0.0, Ordering::Relaxed),
        )
    }
}

/// The audio thread's end of the meters: the ring producer and the shared atomics.
pub struct MeterTap<'a> {
    /// Where frames go.
    pub producer: &'a mut rtrb::Producer<MeterFrame>,
    /// Where scalars go.
    pub shared: &'a SharedMeters,
}

impl MeterTap<'_> {
    /// Records the peaks of a block (linear). Does not allocate.
    pub fn peaks(&self, input: f32, output: f32) {
        self.shared.input_peak.fetch_max(input, Ordering::Relaxed);
        self.shared.output_peak.fetch_max(output, Ordering::Relaxed);
    }

    /// Pushes one frame; drops it if the ring is full (the editor is not draining). Does not allocate.
    pub fn frame(&mut self, frame: MeterFrame) {
        let _ = self.producer.push(frame);
    }
}

/// Largest absolute finite sample over all channels, linear. Does not allocate.
pub fn peak(audio: &[&mut [f32]]) -> f32 {
    peak_of(audio.iter().flat_map(|c| c.iter()))
}

/// Largest absolute finite value of `samples`, linear (0 for none). Does not allocate.
pub fn peak_of<'a>(samples: impl IntoIterator<Item = &'a f32>) -> f32 {
    samples.into_iter().fold(
        0.0f32,
        |m, x| if x.is_finite() { m.max(x.abs()) } else { m },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_flow_one_way_and_overflow_is_dropped() {
        let (shared, mut producer) = SharedMeters::new();
        let mut tap = MeterTap {
            producer: &mut producer,
            shared: &shared,
        };
        let mut f = MeterFrame::from_info(&FrameInfo::default());
        for i in 0..FRAME_RING_CAPACITY + 10 {
            f.vad = i as f32;
            tap.frame(f);
        }
        tap.peaks(0.5, 0.25);
        tap.peaks(0.1, 0.75);
        let mut got = Vec::new();
        assert_eq!(
            shared.drain_frames(|f| got.push(f.vad)),
            FRAME_RING_CAPACITY
        );
        assert_eq!(got[0], 0.0);
        assert_eq!(shared.take_peaks(), (0.5, 0.75));
        assert_eq!(shared.take_peaks(), (0.0, 0.0));
    }

    #[test]
    fn power_gain_weights_bands_by_energy() {
        let mut f = MeterFrame::from_info(&FrameInfo::default());
        assert_eq!(f.power_gain(), 1.0);
        f.band_energy = [0.0; NB_BANDS];
        f.band_energy[0] = 1.0;
        f.band_gains[0] = 0.1;
        assert!((f.power_gain() - 0.01).abs() < 1e-6);
    }
}
