//! Frame cost on digital silence after speech, with and without flush-to-zero / denormals-are-zero: what
//! nice-plug's `unsafe_flush_denormals` (on in the plugin) changes on the audio thread.
//!
//! `cargo bench -p quell-dsp --bench denormals`
//!
//! Each round processes one second of voice in noise (so the classic tracker's and the network's recursions
//! hold speech-level state), then three seconds of exact zeros, and times every silent frame. Printed: mean and
//! worst frame time over 20 rounds, per mode, with the x86 MXCSR flush bits off and on. Not a criterion
//! benchmark: criterion's iterations cannot be aligned with a "speech, then silence" history.

mod common;

use quell_dsp::neural::{ModelWeights, NeuralMask};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;
use std::hint::black_box;
use std::time::Instant;

/// Sets or clears FTZ (bit 15) and DAZ (bit 6) of MXCSR; returns false where there is no such register.
#[allow(deprecated)]
fn flush_denormals(on: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        const BITS: u32 = (1 << 15) | (1 << 6);
        // SAFETY: only the denormal-handling bits of this thread's MXCSR change.
        unsafe {
            let csr = _mm_getcsr();
            _mm_setcsr(if on { csr | BITS } else { csr & !BITS });
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = on;
        false
    }
}

fn main() {
    let rate = 48_000.0;
    let voice = synth::voice(rate, 1.0, &Voice::default());
    let noise = synth::white(&mut Rng::new(1), voice.len(), -35.0);
    let speech: Vec<f32> = voice.iter().zip(&noise).map(|(a, b)| a + b).collect();
    let mask = NeuralMask::new(&ModelWeights::seeded_random(1));
    println!("mode     flush  silent frame: mean µs  worst µs   (speech frame mean µs)");
    for mode in [MaskMode::Classic, MaskMode::Neural] {
        for ftz in [false, true] {
            if !flush_denormals(ftz) {
                println!("no MXCSR on this architecture: skipped");
                return;
            }
            let mut engine = common::mono_engine(rate, &mask, mode);
            let hop = engine.layout().hop;
            let mut buf = vec![0.0f32; hop];
            let (mut silent_total, mut silent_n, mut worst) = (0.0f64, 0usize, 0.0f64);
            let (mut speech_total, mut speech_n) = (0.0f64, 0usize);
            for _round in 0..20 {
                for chunk in speech.chunks_exact(hop) {
                    buf.copy_from_slice(chunk);
                    let t = Instant::now();
                    engine.process(black_box(&mut [&mut buf[..]]));
                    speech_total += t.elapsed().as_secs_f64();
                    speech_n += 1;
                }
                for _ in 0..300 {
                    buf.fill(0.0);
                    let t = Instant::now();
                    engine.process(black_box(&mut [&mut buf[..]]));
                    let dt = t.elapsed().as_secs_f64();
                    silent_total += dt;
                    silent_n += 1;
                    worst = worst.max(dt);
                }
            }
            println!(
                "{:<8} {:<6} {:>20.1} {:>9.1}   ({:.1})",
                format!("{mode:?}"),
                if ftz { "on" } else { "off" },
                silent_total / silent_n as f64 * 1e6,
                worst * 1e6,
                speech_total / speech_n as f64 * 1e6
            );
        }
    }
    flush_denormals(false);
}
