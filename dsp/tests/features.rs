//! Features, bands and pitch behave as documented.

mod common;
use common::*;
use quell_dsp::bands::{BAND_EDGES_HZ, NB_BANDS};
use quell_dsp::features::NB_FEATURES;
use quell_dsp::synth::{self, Voice};
use quell_dsp::{Engine, FrameInfo, MaskMode};

/// Runs `x` hop by hop and collects the frame info of every frame.
fn frames(e: &mut Engine, x: &[f32]) -> Vec<FrameInfo> {
    let hop = e.layout().hop;
    let mut buf = x.to_vec();
    buf.chunks_mut(hop)
        .filter(|c| c.len() == hop)
        .map(|c| {
            e.process(&mut [c]);
            *e.frame_info()
        })
        .collect()
}

#[test]
fn a_sine_lights_the_band_it_falls_in() {
    for rate in [16_000.0, 48_000.0, 96_000.0] {
        let mut e = engine(rate, 1, MaskMode::Unity);
        for (band, &hz) in BAND_EDGES_HZ.iter().enumerate().skip(1) {
            if band >= e.bands().present() || hz >= 0.49 * rate {
                break;
            }
            let x: Vec<f32> = (0..(rate * 0.2) as usize)
                .map(|n| 0.5 * (2.0 * std::f32::consts::PI * hz * n as f32 / rate).sin())
                .collect();
            e.reset();
            let info = *frames(&mut e, &x).last().unwrap();
            let loudest = (0..NB_BANDS)
                .max_by(|&a, &b| info.band_energy[a].total_cmp(&info.band_energy[b]))
                .unwrap();
            assert_eq!(loudest, band, "rate {rate}: {hz} Hz lit band {loudest}");
        }
    }
}

#[test]
fn silence_gives_the_floor_and_is_flagged() {
    let mut e = engine(48_000.0, 1, MaskMode::Unity);
    let f = frames(&mut e, &vec![0.0; 48_000]);
    let last = f.last().unwrap();
    assert!(last.silent);
    assert!(last.band_energy.iter().all(|&x| x == 0.0));
    assert!(last.features.iter().all(|x| x.is_finite()));
    // The cepstrum of an all-floor spectrum is flat: only c0 (index 0, summed over 3 frames) is non-zero.
    for (i, v) in last.features[6..22].iter().enumerate() {
        assert!(v.abs() < 1e-4, "c{} = {v}", i + 6);
    }
    let mut e = engine(48_000.0, 1, MaskMode::Unity);
    let f = frames(
        &mut e,
        &synth::voice(
            48_000.0,
            0.5,
            &Voice {
                syllable_hz: 0.0,
                ..Voice::default()
            },
        ),
    );
    assert!(!f.last().unwrap().silent);
}

#[test]
fn pitch_of_a_synthetic_voice_is_found_within_2_percent() {
    for rate in [16_000.0, 44_100.0, 48_000.0, 96_000.0] {
        for f0 in [80.0f32, 110.0, 150.0, 220.0, 300.0, 400.0] {
            let voice = Voice {
                f0_start_hz: f0,
                f0_end_hz: f0,
                max_hz: 7_500.0,
                syllable_hz: 0.0,
                rms_dbfs: -25.0,
            };
            let x = synth::voice(rate, 0.6, &voice);
            let mut e = engine(rate, 1, MaskMode::Unity);
            let f = frames(&mut e, &x);
            for info in &f[10..] {
                let err = (info.pitch_hz - f0).abs() / f0;
                assert!(
                    err < 0.02,
                    "rate {rate}: f0 {f0} Hz found as {} Hz",
                    info.pitch_hz
                );
                assert!(
                    info.pitch_correlation > 0.8,
                    "rate {rate} f0 {f0}: correlation {}",
                    info.pitch_correlation
                );
            }
        }
    }
}

#[test]
fn the_same_band_limited_signal_gives_the_same_features_at_every_rate() {
    // Tolerance: 0.05 mean absolute difference per feature, and 0.5 at most. The largest differences are in the
    // band pitch correlations (features 34..40): the pitch delay is a whole number of host samples, so its
    // rounding differs between rates by up to half a sample.
    let voice = Voice {
        max_hz: 7_800.0,
        ..Voice::default()
    };
    let at = |rate: f32| {
        let mut e = engine(rate, 1, MaskMode::Unity);
        frames(&mut e, &synth::voice(rate, 2.0, &voice))
    };
    let reference = at(48_000.0);
    for rate in [44_100.0, 96_000.0] {
        let other = at(rate);
        let (mut sum, mut worst, mut count) = (0.0f64, 0.0f32, 0usize);
        for (a, b) in reference.iter().zip(&other).skip(10) {
            for i in 0..NB_FEATURES {
                let d = (a.features[i] - b.features[i]).abs();
                sum += d as f64;
                worst = worst.max(d);
                count += 1;
            }
        }
        let mean = sum / count as f64;
        println!("48 kHz vs {rate} Hz: mean |Δfeature| {mean:.4}, max {worst:.4}");
        assert!(mean < 0.05, "{rate}: mean difference {mean}");
        assert!(worst < 0.5, "{rate}: worst difference {worst}");
    }
}

#[test]
fn offline_band_energies_match_the_engine_frame_for_frame() {
    for rate in [16_000.0, 48_000.0] {
        let x = synth::voice(rate, 0.5, &Voice::default());
        let mut e = engine(rate, 1, MaskMode::Unity);
        let online = frames(&mut e, &x);
        let offline = quell_dsp::offline::frame_band_energies(rate, &x).unwrap();
        assert_eq!(online.len(), offline.len());
        for (a, b) in online.iter().zip(&offline) {
            assert_eq!(a.band_energy, *b);
        }
    }
}
