//! Features and targets of an example, computed with the engine's own code (the features the model trains on
//! are bit-for-bit those it sees in the plugin).

use crate::mix::Example;
use quell_dsp::bands::{BAND_EDGES_HZ, NB_BANDS};
use quell_dsp::features::NB_FEATURES;
use quell_dsp::{Engine, EngineConfig, MaskMode};

/// Frames of one example: inputs, targets and loss masks.
pub struct Sequence {
    /// Features per frame.
    pub features: Vec<[f32; NB_FEATURES]>,
    /// Ideal band gains per frame, 0..=1.
    pub gains: Vec<[f32; NB_BANDS]>,
    /// 1 where a band's target counts, 0 where it does not (band absent from the source, silence, gated zeros).
    pub gain_mask: Vec<[f32; NB_BANDS]>,
    /// Voice activity per frame, 0 or 1.
    pub vad: Vec<f32>,
    /// 1 where the VAD target counts.
    pub vad_mask: Vec<f32>,
}

/// A frame is labelled speech when its clean energy is within this many dB of the example's loudest clean frame.
/// −35 dB (−40 dB until 2026-12-04): at −40 dB the trimmed room tone of the clips (30–40 dB below their speech)
/// was labelled speech, and the network learned to call a noise floor 25 dB under a voice speech, so that a VAD
/// gate reopened between words (`dsp/tests/gate_onsets.rs`).
pub const VAD_LABEL_DB: f32 = -35.0;

/// Bandwidth of the speech in frame `frame` (hop `hop` samples), Hz: the example's, or with per-clip segments
/// the lowest of the clips heard in the frame's window and the hop before it (so that a clip's first frames
/// never take the wider bandwidth of the clip after it). Does not allocate.
pub fn frame_bandwidth_hz(example: &Example, frame: usize, hop: usize) -> f32 {
    if example.segments.is_empty() {
        return example.bandwidth_hz;
    }
    let (from, to) = (frame.saturating_sub(2) * hop, (frame + 1) * hop);
    let mut hz = f32::INFINITY;
    for (k, &(start, bw)) in example.segments.iter().enumerate() {
        let end = example.segments.get(k + 1).map_or(usize::MAX, |s| s.0);
        if start < to && end > from {
            hz = hz.min(bw);
        }
    }
    if hz.is_finite() {
        hz
    } else {
        example.bandwidth_hz
    }
}

/// Computes the sequence of `example`. Allocates.
pub fn sequence(example: &Example) -> Sequence {
    let rate = example.rate as f32;
    let mut engine = Engine::new(EngineConfig {
        sample_rate: rate,
        channels: 1,
    })
    .expect("a rate the engine runs at, mono");
    engine.set_mode(MaskMode::Unity);
    let hop = engine.layout().hop;
    let clean_energy = quell_dsp::offline::frame_band_energies(rate, &example.clean)
        .expect("a rate the engine runs at");
    let mut noisy = example.noisy.clone();
    let frames = noisy.len() / hop;
    let mut seq = Sequence {
        features: Vec::with_capacity(frames),
        gains: Vec::with_capacity(frames),
        gain_mask: Vec::with_capacity(frames),
        vad: Vec::with_capacity(frames),
        vad_mask: Vec::with_capacity(frames),
    };
    let loudest = clean_energy
        .iter()
        .map(|e| e.iter().sum::<f32>())
        .fold(0.0f32, f32::max);
    for (i, chunk) in noisy.chunks_mut(hop).take(frames).enumerate() {
        engine.process(&mut [chunk]);
        let info = engine.frame_info();
        let ec = &clean_energy[i];
        let bandwidth = frame_bandwidth_hz(example, i, hop);
        let clean_total: f32 = ec.iter().sum();
        // Digital zeros inside speech (RAVDESS's own gating) say nothing about what to keep: skip the frame.
        let gated = example.has_speech && clean_total == 0.0;
        let mut g = [0.0; NB_BANDS];
        let mut m = [0.0; NB_BANDS];
        for b in 0..NB_BANDS {
            let en = info.band_energy[b];
            g[b] = (ec[b] / (en + 1e-20)).sqrt().min(1.0);
            let in_source = BAND_EDGES_HZ[b] < 0.9 * bandwidth;
            m[b] = if !gated && in_source && en > 1e-14 {
                1.0
            } else {
                0.0
            };
        }
        let speech = clean_total > (loudest * 10f32.powf(VAD_LABEL_DB / 10.0)).max(1e-10);
        seq.features.push(info.features);
        seq.gains.push(g);
        seq.gain_mask.push(m);
        seq.vad.push(if speech { 1.0 } else { 0.0 });
        seq.vad_mask.push(if gated { 0.0 } else { 1.0 });
    }
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::RATE;
    use quell_dsp::synth::{self, Rng, Voice};

    #[test]
    fn room_tone_well_below_the_voice_is_labelled_silence() {
        // One second of a voice at -20 dBFS, then one second of its "room tone" 40 dB below the voice: the
        // situation of a trimmed clip's tail, which the network must not learn to call speech.
        let rate = RATE as f32;
        let mut clean = synth::voice(
            rate,
            1.0,
            &Voice {
                syllable_hz: 0.0,
                rms_dbfs: -20.0,
                ..Voice::default()
            },
        );
        let mut rng = Rng::new(5);
        clean.extend(synth::pink(&mut rng, RATE as usize, -60.0));
        let hiss = synth::white(&mut rng, clean.len(), -90.0);
        let noisy = clean.iter().zip(&hiss).map(|(c, n)| c + n).collect();
        let seq = sequence(&Example {
            clean,
            noisy,
            bandwidth_hz: 24_000.0,
            segments: Vec::new(),
            has_speech: true,
            rate: RATE,
        });
        let hop = seq.vad.len() / 2;
        let voice = seq.vad[10..hop - 10].iter().filter(|&&v| v == 1.0).count();
        let tone = seq.vad[hop + 10..].iter().filter(|&&v| v == 1.0).count();
        assert!(voice >= hop - 25, "voice frames labelled speech: {voice}");
        // Pink noise's frame energies swing by several dB, so a frame or two may cross; at the old −40 dB label
        // most of them did.
        assert!(
            tone <= 5,
            "room-tone frames labelled speech: {tone} of {}",
            seq.vad.len() - hop - 10
        );
    }

    #[test]
    fn a_resampled_example_is_framed_and_masked_at_its_own_rate() {
        let rate = RATE as f32;
        let mut rng = Rng::new(11);
        let clean = synth::voice(rate, 2.0, &Voice::default());
        let hiss = synth::white(&mut rng, clean.len(), -40.0);
        let noisy: Vec<f32> = clean.iter().zip(&hiss).map(|(c, n)| c + n).collect();
        let full = Example {
            clean,
            noisy,
            bandwidth_hz: 24_000.0,
            segments: Vec::new(),
            has_speech: true,
            rate: RATE,
        };
        let at48 = sequence(&full);
        for low in [8_000, 16_000, 22_050, 32_000] {
            let ex = full.resampled(low);
            assert_eq!(ex.rate, low);
            let seq = sequence(&ex);
            // 10 ms frames at every rate: as many frames (22.05 kHz rounds its hop to 221 samples).
            assert!(
                seq.features.len().abs_diff(at48.features.len()) <= 1,
                "{low} Hz: {} frames against {}",
                seq.features.len(),
                at48.features.len()
            );
            // No target above 0.9 × the new bandwidth; targets below it where the mixture has energy.
            let nyquist = 0.5 * low as f32;
            for (b, edge) in BAND_EDGES_HZ.iter().enumerate() {
                let counted = seq.gain_mask.iter().filter(|m| m[b] > 0.0).count();
                if *edge >= 0.9 * 0.95 * nyquist {
                    assert_eq!(counted, 0, "{low} Hz: band {b} ({edge} Hz) has targets");
                } else if b > 0 {
                    assert!(
                        counted > seq.features.len() / 2,
                        "{low} Hz: band {b} has {counted} targets"
                    );
                }
            }
            // The features are the engine's at that rate: the bands above its Nyquist frequency read as empty,
            // which shows in the cepstrum (the features differ from the 48 kHz ones).
            assert_ne!(seq.features[100], at48.features[100], "{low} Hz");
        }
    }

    #[test]
    fn with_clip_segments_each_frame_is_masked_by_the_clips_it_hears() {
        // Two seconds of a full-band voice under white noise; the first second counts as an 8 kHz clip.
        let rate = RATE as f32;
        let mut rng = Rng::new(12);
        // One steady vowel: no silent gaps, whose frames the targets skip.
        let steady = Voice {
            syllable_hz: 0.0,
            ..Voice::default()
        };
        let clean = synth::voice(rate, 2.0, &steady);
        let hiss = synth::white(&mut rng, clean.len(), -40.0);
        let noisy: Vec<f32> = clean.iter().zip(&hiss).map(|(c, n)| c + n).collect();
        let second = RATE as usize;
        let mut example = Example {
            clean,
            noisy,
            bandwidth_hz: 8_000.0,
            segments: vec![(0, 8_000.0), (second, 24_000.0)],
            has_speech: true,
            rate: RATE,
        };
        let top = NB_BANDS - 2; // the 15.6 kHz band
        let seq = sequence(&example);
        let hop = second / 100;
        assert_eq!(frame_bandwidth_hz(&example, 50, hop), 8_000.0);
        // The frames whose window (or the hop before it) reaches into the first clip keep its bandwidth.
        assert_eq!(frame_bandwidth_hz(&example, 101, hop), 8_000.0);
        assert_eq!(frame_bandwidth_hz(&example, 102, hop), 24_000.0);
        assert!(seq.gain_mask[..100].iter().all(|m| m[top] == 0.0));
        assert!(seq.gain_mask[105..].iter().all(|m| m[top] == 1.0));
        // Resampled to 16 kHz, the second clip is limited to the new Nyquist frequency as well.
        let low = example.resampled(16_000);
        assert_eq!(low.segments[1].0, second / 3);
        assert_eq!(low.segments[1].1, 0.95 * 8_000.0);
        // Without segments the example's own bandwidth holds everywhere, as before.
        example.segments.clear();
        let seq = sequence(&example);
        assert!(seq.gain_mask.iter().all(|m| m[top] == 0.0));
    }
}
