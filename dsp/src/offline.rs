//! Whole-buffer calls for callers that hold the entire signal (the command line's tests, the evaluation, the
//! trainer). They allocate and are not for the audio thread; [`crate::Engine::process`] is the real-time call
//! beside them.

use crate::bands::{BandLayout, NB_BANDS};
use crate::stft::Stft;
use crate::{DspError, Engine, FrameLayout};
use realfft::num_complex::Complex32;

impl Engine {
    /// Processes a whole signal (one slice per channel, equal lengths) and returns the output with the
    /// engine's latency removed: sample `i` of the output lines up with sample `i` of the input, and the output
    /// has the input's length (the tail is flushed with silence). Continues from the engine's current state;
    /// call [`Engine::reset`] first for a fresh start. Channels beyond the engine's count are returned
    /// untouched. Allocates (the output, and one padded copy of the input).
    pub fn process_buffer(&mut self, input: &[&[f32]]) -> Vec<Vec<f32>> {
        let latency = self.latency_samples();
        let len = input.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut work: Vec<Vec<f32>> = input
            .iter()
            .map(|c| {
                let mut v = Vec::with_capacity(len + latency);
                v.extend_from_slice(&c[..len]);
                v.resize(len + latency, 0.0);
                v
            })
            .collect();
        let used = work.len().min(self.channels());
        {
            let mut slices: Vec<&mut [f32]> = work[..used].iter_mut().map(|c| &mut c[..]).collect();
            self.process(&mut slices);
        }
        for (c, ch) in work.iter_mut().enumerate() {
            if c < used {
                ch.drain(..latency);
            } else {
                ch.truncate(len);
            }
        }
        work
    }

    /// [`Engine::process_buffer`] for one channel. Allocates.
    pub fn process_buffer_mono(&mut self, input: &[f32]) -> Vec<f32> {
        self.process_buffer(&[input]).remove(0)
    }
}

/// Band energies of every frame of `signal` as the engine frames it at `sample_rate` (frame `i` ends at sample
/// `(i + 1) · hop`, with silence before the start): the same [`Stft`] analysis and bands as
/// [`crate::FrameInfo::band_energy`]. For the trainer's targets. Allocates.
pub fn frame_band_energies(
    sample_rate: f32,
    signal: &[f32],
) -> Result<Vec<[f32; NB_BANDS]>, DspError> {
    let layout = FrameLayout::new(sample_rate)?;
    let bands = BandLayout::new(&layout);
    let mut stft = Stft::new(&layout, 1, 0);
    let mut spec = vec![Complex32::default(); layout.bins];
    let frames = signal.len() / layout.hop;
    let mut out = Vec::with_capacity(frames);
    let mut hop = vec![0.0f32; layout.hop];
    for chunk in signal.chunks_exact(layout.hop) {
        hop.copy_from_slice(chunk);
        if stft.exchange(&mut [&mut hop[..]], 1, 0, layout.hop) {
            stft.analyze(0, 0, &mut spec);
            stft.advance();
            let mut e = [0.0; NB_BANDS];
            bands.energy(&spec, &mut e);
            out.push(e);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EngineConfig, MaskMode};

    #[test]
    fn the_whole_buffer_call_is_the_streaming_output_without_the_latency() {
        for (rate, channels) in [(16_000.0, 1), (44_100.0, 2), (48_000.0, 3)] {
            let mut rng = crate::synth::Rng::new(3);
            let input: Vec<Vec<f32>> = (0..channels)
                .map(|_| crate::synth::white(&mut rng, 12_345, -25.0))
                .collect();
            let new = || {
                let mut e = Engine::new(EngineConfig {
                    sample_rate: rate,
                    channels,
                })
                .unwrap();
                e.set_mode(MaskMode::Classic);
                e
            };
            let refs: Vec<&[f32]> = input.iter().map(|c| &c[..]).collect();
            let whole = new().process_buffer(&refs);
            let mut e = new();
            let latency = e.latency_samples();
            let mut streamed: Vec<Vec<f32>> = input.clone();
            for c in &mut streamed {
                c.resize(12_345 + latency, 0.0);
            }
            for start in (0..12_345 + latency).step_by(100) {
                let end = (start + 100).min(12_345 + latency);
                let mut s: Vec<&mut [f32]> =
                    streamed.iter_mut().map(|c| &mut c[start..end]).collect();
                e.process(&mut s);
            }
            for c in 0..channels {
                assert_eq!(whole[c].len(), 12_345);
                assert_eq!(whole[c], streamed[c][latency..], "rate {rate} channel {c}");
            }
        }
    }

    #[test]
    fn frame_band_energies_match_what_the_engine_reports() {
        let rate = 48_000.0;
        let mut rng = crate::synth::Rng::new(8);
        let x = crate::synth::pink(&mut rng, 4_800, -20.0);
        let offline = frame_band_energies(rate, &x).unwrap();
        let mut e = Engine::new(EngineConfig {
            sample_rate: rate,
            channels: 1,
        })
        .unwrap();
        e.set_mode(MaskMode::Unity);
        assert_eq!(offline.len(), 10);
        for (i, chunk) in x.chunks(480).enumerate() {
            let mut c = chunk.to_vec();
            e.process(&mut [&mut c[..]]);
            assert_eq!(offline[i], e.frame_info().band_energy, "frame {i}");
        }
    }
}
