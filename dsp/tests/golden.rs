//! Golden outputs: a fixed generated clip through the shipped model (neural mode) and through classic mode, at
//! 44.1 and 48 kHz, mono and stereo, checked bit for bit against the digests in `tests/golden/digests.txt`.
//!
//! A refactor must leave every digest unchanged. When the sound changes on purpose (a new model, a new
//! constant), regenerate the file with
//!
//! ```text
//! QUELL_BLESS_GOLDEN=1 cargo test -p quell-dsp --test golden
//! ```
//!
//! and say in the commit why the output changed.

mod common;
use common::*;
use quell_dsp::neural::{self, NeuralMask};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Two seconds of a synthetic voice over pink noise, mains hum and a few clicks; the second channel (stereo)
/// has its own noise and a quieter voice.
fn clip(rate: f32, channel: usize) -> Vec<f32> {
    let seconds = 2.0;
    let len = (rate * seconds).round() as usize;
    let voice = synth::voice(
        rate,
        seconds,
        &Voice {
            rms_dbfs: -20.0 - 4.0 * channel as f32,
            ..Voice::default()
        },
    );
    let mut rng = Rng::new(31 + channel as u64);
    let pink = synth::pink(&mut rng, len, -38.0);
    let hum = synth::hum(rate, len, 50.0, 5, -45.0);
    let mut x: Vec<f32> = (0..len).map(|i| voice[i] + pink[i] + hum[i]).collect();
    // Clicks: 2 ms decaying bursts every 230 ms.
    let click = (rate * 0.002) as usize;
    for start in (0..len).step_by((rate * 0.23) as usize).skip(1) {
        for k in 0..click.min(len - start) {
            x[start + k] +=
                0.3 * (rng.gaussian() as f32) * (-(k as f32) / (click as f32 / 4.0)).exp();
        }
    }
    x
}

/// FNV-1a (64 bit) over the bits of every output sample, channel after channel.
fn digest(out: &[Vec<f32>]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for ch in out {
        for s in ch {
            for b in s.to_bits().to_le_bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    h
}

fn digests() -> String {
    let weights = neural::shipped_weights()
        .expect("this build has a shipped model")
        .expect("the shipped model loads");
    let mut text = String::new();
    for mode in [MaskMode::Neural, MaskMode::Classic] {
        for rate in [44_100.0f32, 48_000.0] {
            for channels in [1usize, 2] {
                let input: Vec<Vec<f32>> = (0..channels).map(|c| clip(rate, c)).collect();
                let mut e = engine(rate, channels, mode);
                if mode == MaskMode::Neural {
                    e.set_model(Some(NeuralMask::new(&weights)));
                }
                let out = run(&mut e, &input, Blocks::Fixed(480));
                writeln!(
                    text,
                    "{:<7} {:>5} Hz {} ch {:016x}",
                    format!("{mode:?}").to_lowercase(),
                    rate,
                    channels,
                    digest(&out)
                )
                .unwrap();
            }
        }
    }
    text
}

#[test]
fn the_output_matches_the_golden_digests_bit_for_bit() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/digests.txt");
    let now = digests();
    if std::env::var_os("QUELL_BLESS_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        eprintln!("wrote {}:\n{now}", path.display());
        return;
    }
    let stored = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with QUELL_BLESS_GOLDEN=1)", path.display()));
    assert_eq!(
        now, stored,
        "the engine's output changed; if that was intended, regenerate with \
         QUELL_BLESS_GOLDEN=1 cargo test -p quell-dsp --test golden"
    );
}
