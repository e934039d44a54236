//! Latency, reconstruction and block-size independence over the rate × block-size × channel matrix.

mod common;
use common::*;
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;

fn test_signal(rate: f32, seconds: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let len = (rate * seconds) as usize;
    let v = synth::voice(rate, seconds, &Voice::default());
    let n = synth::pink(&mut rng, len, -35.0);
    v.iter().zip(&n).map(|(a, b)| a + b).collect()
}

#[test]
fn unity_mask_is_a_pure_delay_of_exactly_the_reported_latency() {
    for rate in RATES {
        for blocks in BLOCKS {
            for channels in [1usize, 2] {
                let input: Vec<Vec<f32>> = (0..channels)
                    .map(|c| test_signal(rate, 0.5, 11 + c as u64))
                    .collect();
                let mut e = engine(rate, channels, MaskMode::Unity);
                let latency = e.latency_samples();
                assert_eq!(
                    latency,
                    (rate * 0.02).round() as usize,
                    "latency is one 20 ms window"
                );
                let out = run(&mut e, &input, blocks);
                for c in 0..channels {
                    assert!(
                        out[c][..latency].iter().all(|&x| x.abs() < 1e-6),
                        "silence before the latency"
                    );
                    let err = input[c]
                        .iter()
                        .zip(aligned(&out[c], latency))
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0f32, f32::max);
                    assert!(
                        err <= 1e-5,
                        "rate {rate} {blocks:?} ch {c}: max error {err}"
                    );
                }
            }
        }
    }
}

#[test]
fn an_impulse_comes_out_exactly_latency_samples_later() {
    for rate in [16_000.0, 22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
        for mode in [MaskMode::Unity, MaskMode::Classic] {
            let mut e = engine(rate, 1, mode);
            e.set_max_attenuation_db(0.0);
            let latency = e.latency_samples();
            let mut x = vec![0.0f32; latency * 4];
            x[latency / 3] = 1.0;
            let out = run_mono(&mut e, &x, Blocks::Fixed(97));
            let peak = out
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap()
                .0;
            assert_eq!(peak, latency / 3 + latency, "rate {rate} {mode:?}");
            assert!((out[peak] - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn output_is_bit_identical_whatever_the_host_block_sizes() {
    for rate in RATES {
        for channels in [1usize, 2] {
            let input: Vec<Vec<f32>> = (0..channels)
                .map(|c| test_signal(rate, 1.0, 3 + c as u64))
                .collect();
            let mut reference_engine = engine(rate, channels, MaskMode::Classic);
            let hop = reference_engine.layout().hop;
            let reference = run(&mut reference_engine, &input, Blocks::Fixed(hop));
            for blocks in BLOCKS {
                let mut e = engine(rate, channels, MaskMode::Classic);
                let out = run(&mut e, &input, blocks);
                assert!(
                    out == reference,
                    "rate {rate} channels {channels} {blocks:?} differs from hop-sized blocks"
                );
            }
        }
    }
}

#[test]
fn zero_attenuation_leaves_the_signal_untouched_in_classic_mode() {
    let rate = 48_000.0;
    let x = test_signal(rate, 1.0, 5);
    let mut e = engine(rate, 1, MaskMode::Classic);
    e.set_max_attenuation_db(0.0);
    let latency = e.latency_samples();
    let out = run_mono(&mut e, &x, Blocks::Fixed(333));
    let err = x
        .iter()
        .zip(aligned(&out, latency))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err <= 1e-5, "max error {err}");
}

#[test]
fn linked_stereo_keeps_the_image() {
    // A voice panned left (L = 2·R) in noise that is identical on both sides: the output keeps L = 2·R exactly,
    // because one mask is applied to both channels.
    let rate = 48_000.0;
    let x = test_signal(rate, 1.5, 9);
    let input = vec![
        x.iter().map(|v| v * 0.8).collect::<Vec<f32>>(),
        x.iter().map(|v| v * 0.4).collect(),
    ];
    let mut e = engine(rate, 2, MaskMode::Classic);
    let out = run(&mut e, &input, Blocks::Fixed(256));
    let mut worst = 0.0f32;
    for (l, r) in out[0].iter().zip(&out[1]) {
        worst = worst.max((l - 2.0 * r).abs());
    }
    assert!(worst < 1e-5, "channel ratio drifted by {worst}");
    let (il, ol) = (
        quell_dsp::metrics::rms(&input[0]),
        quell_dsp::metrics::rms(&out[0]),
    );
    assert!(ol < il, "noise reduced");
}

#[test]
fn unusual_rates_and_channel_counts_work_and_bad_ones_are_refused() {
    for rate in [
        8_000.0, 11_025.0, 22_050.0, 32_000.0, 88_200.0, 176_400.0, 192_000.0, 384_000.0,
    ] {
        let mut e = engine(rate, 4, MaskMode::Classic);
        let input: Vec<Vec<f32>> = (0..4).map(|c| test_signal(rate, 0.3, c)).collect();
        let out = run(&mut e, &input, Blocks::Random(3));
        assert!(out.iter().flatten().all(|v| v.is_finite()), "rate {rate}");
        assert!(
            out.iter().flatten().any(|&v| v != 0.0),
            "rate {rate} is not silent"
        );
    }
    use quell_dsp::{Engine, EngineConfig};
    assert!(Engine::new(EngineConfig {
        sample_rate: 4_000.0,
        channels: 1
    })
    .is_err());
    assert!(Engine::new(EngineConfig {
        sample_rate: f32::NAN,
        channels: 1
    })
    .is_err());
    assert!(Engine::new(EngineConfig {
        sample_rate: 48_000.0,
        channels: 0
    })
    .is_err());
    let err = Engine::new(EngineConfig {
        sample_rate: 1.0,
        channels: 1,
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("sample rate 1 Hz"), "{err}");
}

#[test]
fn mismatched_host_buffers_do_not_panic() {
    let mut e = engine(48_000.0, 2, MaskMode::Classic);
    let mut a = vec![0.1f32; 1000];
    let mut b = vec![0.1f32; 500];
    let mut c = vec![0.1f32; 1000];
    e.process(&mut [&mut a[..], &mut b[..], &mut c[..]]);
    e.process(&mut [&mut a[..]]);
    e.process(&mut []);
    assert!(
        c.iter().all(|&v| v == 0.1),
        "extra channels are left untouched"
    );
}

#[test]
fn neural_mode_is_block_size_independent_and_exact_at_zero_reduction() {
    use quell_dsp::neural::{ModelWeights, NeuralMask};
    let mask = NeuralMask::new(&ModelWeights::seeded_random(9));
    for rate in [44_100.0, 48_000.0] {
        for channels in [1usize, 2] {
            let input: Vec<Vec<f32>> = (0..channels)
                .map(|c| test_signal(rate, 1.0, 30 + c as u64))
                .collect();
            let make = || {
                let mut e = engine(rate, channels, MaskMode::Neural);
                e.set_model(Some(mask.clone()));
                e
            };
            let mut reference_engine = make();
            let hop = reference_engine.layout().hop;
            let reference = run(&mut reference_engine, &input, Blocks::Fixed(hop));
            for blocks in BLOCKS {
                let out = run(&mut make(), &input, blocks);
                assert!(
                    out == reference,
                    "rate {rate} channels {channels} {blocks:?}"
                );
            }
            let mut e = make();
            e.set_max_attenuation_db(0.0);
            let latency = e.latency_samples();
            let out = run(&mut e, &input, Blocks::Random(5));
            for c in 0..channels {
                let err = input[c]
                    .iter()
                    .zip(aligned(&out[c], latency))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    err <= 1e-5,
                    "rate {rate}: 0 dB reduction changed the signal by {err}"
                );
            }
        }
    }
}

#[test]
fn neural_mode_without_a_model_runs_the_classic_mask() {
    let rate = 48_000.0;
    let x = test_signal(rate, 1.0, 2);
    let mut neural = engine(rate, 1, MaskMode::Neural);
    let mut classic = engine(rate, 1, MaskMode::Classic);
    assert_eq!(neural.effective_mode(), MaskMode::Classic);
    assert_eq!(
        run_mono(&mut neural, &x, Blocks::Fixed(100)),
        run_mono(&mut classic, &x, Blocks::Fixed(100))
    );
}
