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
        let clean_total: f32 = ec.iter().sum();
        // Digital zeros inside speech (RAVDESS's own gating) say nothing about what to keep: skip the frame.
        let gated = example.has_speech && clean_total == 0.0;
        let mut g = [0.0; NB_BANDS];
        let mut m = [0.0; NB_BANDS];
        for b in 0..NB_BANDS {
            let en = info.band_energy[b];
            g[b] = (ec[b] / (en + 1e-20)).sqrt().min(1.0);
            let in_source = BAND_EDGES_HZ[b] < 0.9 * example.bandwidth_hz;
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
}
