//! The short-time Fourier transform: per-channel analysis buffers, windowing, the forward transform, the
//! inverse transform, synthesis windowing and overlap-add.
//!
//! Samples are exchanged with the host one 10 ms hop at a time ([`Stft::exchange`]): each input sample goes
//! into the channel's history and is replaced by a finished output sample. When a hop is complete the engine
//! analyses the newest 20 ms ([`Stft::analyze`]), works on the spectra, and hands each channel's spectrum back
//! ([`Stft::synthesize`]) before [`Stft::advance`] starts the next hop. An input sample therefore comes out
//! exactly one window ([`Stft::latency_samples`], 20 ms) later, whatever the host's block sizes.
//!
//! Spectra are scaled by `1 / window`, so levels read the same at every sample rate; the Vorbis window is
//! power-complementary at 50 % overlap, so analysis followed by synthesis with unity gains reconstructs the
//! input exactly (to rounding).
//!
//! Input samples are sanitised on the way in: non-finite values become silence, levels are clamped to
//! ±[`INPUT_CLAMP`] (+60 dBFS) and tiny values are flushed to zero, so no state downstream sees NaN, absurd
//! levels or denormals.

use crate::window::vorbis_into;
use crate::FrameLayout;
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Input samples are clamped to ± this (linear; +60 dBFS).
pub const INPUT_CLAMP: f32 = 1000.0;
/// Samples smaller than this in magnitude are treated as zero (linear, about −600 dBFS; avoids denormals).
pub const FLUSH: f32 = 1e-30;

/// One channel's buffers.
struct Channel {
    /// Input history: `extra` older samples, then the current frame's `window` samples.
    history: Vec<f32>,
    /// Overlap-add accumulator, `window` samples.
    ola: Vec<f32>,
    /// Finished output being played out during the current hop, `hop` samples.
    out: Vec<f32>,
}

/// Streaming analysis and synthesis for a fixed number of channels. Construction allocates and plans both
/// transforms; no other call allocates.
pub struct Stft {
    layout: FrameLayout,
    window: Vec<f32>,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch: Vec<Complex32>,
    frame: Vec<f32>,
    channels: Vec<Channel>,
    /// History kept before the current frame, samples (for analysis of delayed frames).
    extra: usize,
    /// Samples of the current hop already exchanged.
    fill: usize,
}

impl Stft {
    /// Plans the transforms of `layout` for `channels` channels, keeping `extra_history` samples of input before
    /// the current frame so that [`Stft::analyze`] can look that far back. Allocates.
    pub fn new(layout: &FrameLayout, channels: usize, extra_history: usize) -> Self {
        let n = layout.window;
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch = vec![Complex32::default(); fwd.get_scratch_len().max(inv.get_scratch_len())];
        let mut window = vec![0.0; n];
        vorbis_into(&mut window);
        Stft {
            layout: *layout,
            window,
            fwd,
            inv,
            scratch,
            frame: vec![0.0; n],
            channels: (0..channels)
                .map(|_| Channel {
                    history: vec![0.0; extra_history + n],
                    ola: vec![0.0; n],
                    out: vec![0.0; layout.hop],
                })
                .collect(),
            extra: extra_history,
            fill: 0,
        }
    }

    /// Delay from input to output, samples: one window (20 ms).
    pub fn latency_samples(&self) -> usize {
        self.layout.window
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// Samples still to exchange before the current hop is complete (1 ..= hop).
    pub fn until_frame(&self) -> usize {
        self.layout.hop - self.fill
    }

    /// Exchanges `n` samples (at most [`Stft::until_frame`]) from position `pos` of every slice of `audio`:
    /// the first `used` channels take their input from `audio` and give back output in its place; the other
    /// channels take silence. Returns true when the hop is complete: analyse, synthesise, then
    /// [`Stft::advance`]. Does not allocate.
    pub fn exchange(
        &mut self,
        audio: &mut [&mut [f32]],
        used: usize,
        pos: usize,
        n: usize,
    ) -> bool {
        let tail = self.extra + self.layout.window - self.layout.hop;
        let fill = self.fill;
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let dst = &mut ch.history[tail + fill..tail + fill + n];
            if c < used {
                let io = &mut audio[c][pos..pos + n];
                for ((d, x), o) in dst
                    .iter_mut()
                    .zip(io.iter_mut())
                    .zip(&ch.out[fill..fill + n])
                {
                    *d = sanitize(*x);
                    *x = *o;
                }
            } else {
                dst.fill(0.0);
            }
        }
        self.fill += n;
        self.fill == self.layout.hop
    }

    /// Windows and transforms channel `channel`'s frame that ends `delay` samples (at most the extra history)
    /// before the newest sample, into `spec` (`bins` values, scaled by `1 / window`). Does not allocate.
    pub fn analyze(&mut self, channel: usize, delay: usize, spec: &mut [Complex32]) {
        let start = self.extra - delay.min(self.extra);
        let input = &self.channels[channel].history[start..start + self.layout.window];
        forward(
            &*self.fwd,
            &self.window,
            input,
            &mut self.frame,
            spec,
            &mut self.scratch,
        );
    }

    /// Transforms `spec` (destroyed) back, windows it and overlap-adds it into channel `channel`'s output; the
    /// finished hop is played out during the next one. Does not allocate.
    pub fn synthesize(&mut self, channel: usize, spec: &mut [Complex32]) {
        let (n, hop) = (self.layout.window, self.layout.hop);
        spec[0].im = 0.0;
        spec[n / 2].im = 0.0;
        let _ = self
            .inv
            .process_with_scratch(spec, &mut self.frame, &mut self.scratch);
        let ch = &mut self.channels[channel];
        for ((o, f), w) in ch.ola.iter_mut().zip(&self.frame).zip(&self.window) {
            *o = flush(*o + f * w);
        }
        ch.out.copy_from_slice(&ch.ola[..hop]);
        ch.ola.copy_within(hop.., 0);
        ch.ola[n - hop..].fill(0.0);
    }

    /// Starts the next hop: shifts every channel's history by one hop. Call once per completed hop, after
    /// every channel was synthesised. Does not allocate.
    pub fn advance(&mut self) {
        let hop = self.layout.hop;
        for ch in &mut self.channels {
            ch.history.copy_within(hop.., 0);
        }
        self.fill = 0;
    }

    /// Clears every buffer, as after construction. Does not allocate.
    pub fn reset(&mut self) {
        for ch in &mut self.channels {
            ch.history.fill(0.0);
            ch.ola.fill(0.0);
            ch.out.fill(0.0);
        }
        self.fill = 0;
    }
}

/// Windows `input` into `frame`, transforms it into `spec` and scales by `1 / frame.len()`. Does not allocate.
fn forward(
    fft: &dyn RealToComplex<f32>,
    window: &[f32],
    input: &[f32],
    frame: &mut [f32],
    spec: &mut [Complex32],
    scratch: &mut [Complex32],
) {
    let scale = 1.0 / frame.len() as f32;
    for ((f, x), w) in frame.iter_mut().zip(input).zip(window) {
        *f = x * w;
    }
    let _ = fft.process_with_scratch(frame, spec, scratch);
    for s in spec.iter_mut() {
        *s *= scale;
    }
}

/// An input sample made safe: non-finite → 0, clamped to ±[`INPUT_CLAMP`], tiny values flushed. Does not
/// allocate.
#[inline]
pub fn sanitize(x: f32) -> f32 {
    if x.is_finite() {
        flush(x.clamp(-INPUT_CLAMP, INPUT_CLAMP))
    } else {
        0.0
    }
}

/// `x`, or 0 when its magnitude is below [`FLUSH`]. Does not allocate.
#[inline]
pub fn flush(x: f32) -> f32 {
    if x.abs() < FLUSH {
        0.0
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `x` through analysis and synthesis with the spectrum untouched, in hops.
    fn round_trip(rate: f32, x: &[f32]) -> Vec<f32> {
        let layout = FrameLayout::new(rate).unwrap();
        let mut stft = Stft::new(&layout, 1, 0);
        let mut spec = vec![Complex32::default(); layout.bins];
        let mut y = x.to_vec();
        let mut pos = 0;
        while pos < y.len() {
            let n = stft.until_frame().min(y.len() - pos);
            if stft.exchange(&mut [&mut y[..]], 1, pos, n) {
                stft.analyze(0, 0, &mut spec);
                stft.synthesize(0, &mut spec);
                stft.advance();
            }
            pos += n;
        }
        y
    }

    #[test]
    fn analysis_then_synthesis_is_a_delay_of_one_window() {
        for rate in [16_000.0, 44_100.0, 48_000.0, 96_000.0] {
            let mut rng = crate::synth::Rng::new(5);
            let x = crate::synth::white(&mut rng, (rate * 0.3) as usize, -20.0);
            let y = round_trip(rate, &x);
            let latency = FrameLayout::new(rate).unwrap().window;
            assert!(y[..latency].iter().all(|&v| v.abs() < 1e-6));
            let err = x
                .iter()
                .zip(&y[latency..])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-5, "rate {rate}: max error {err}");
        }
    }

    #[test]
    fn a_delayed_analysis_reads_the_older_samples() {
        let layout = FrameLayout::new(16_000.0).unwrap();
        let mut stft = Stft::new(&layout, 1, 200);
        let mut x: Vec<f32> = (0..layout.hop).map(|i| (i as f32 * 0.37).sin()).collect();
        assert!(stft.exchange(&mut [&mut x[..]], 1, 0, layout.hop));
        // With a delay of the whole hop, the frame holds only the silence before the first sample.
        let mut spec = vec![Complex32::default(); layout.bins];
        stft.analyze(0, layout.hop, &mut spec);
        assert!(spec.iter().all(|s| s.norm() == 0.0));
        stft.analyze(0, 0, &mut spec);
        assert!(spec.iter().any(|s| s.norm() > 0.0));
    }

    #[test]
    fn sanitize_removes_what_would_poison_the_state() {
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::INFINITY), 0.0);
        assert_eq!(sanitize(1e9), INPUT_CLAMP);
        assert_eq!(sanitize(-1e9), -INPUT_CLAMP);
        assert_eq!(sanitize(1e-35), 0.0);
        assert_eq!(sanitize(0.25), 0.25);
    }
}
