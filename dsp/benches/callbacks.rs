//! The worst host callback at high rates and small buffers: all of a hop's work (analysis, network, synthesis)
//! lands in the one callback that completes the hop, so at 192 kHz with 32-sample buffers one callback in 60
//! carries a whole frame. This measures that callback against the buffer's own duration.
//!
//! `cargo bench -p quell-dsp --bench callbacks`
//!
//! Stereo, neural mode with the shipped model (a seeded random network of the same shape when the build has
//! none; classic and unity mode at 192 kHz for comparison), voice in noise, 20 s per case, every callback timed.
//! Printed per rate and buffer size: the buffer's duration, the mean callback, and of the callbacks that complete
//! a frame the median, 99th percentile and worst, and the median as a share of the buffer. Not a criterion
//! benchmark: what matters is the distribution of single calls, not a mean.

use quell_dsp::neural::{shipped_weights, ModelWeights, NeuralMask};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::{Engine, EngineConfig, MaskMode};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let weights = match shipped_weights() {
        Some(Ok(w)) => w,
        _ => ModelWeights::seeded_random(1),
    };
    let mask = NeuralMask::new(&weights);
    println!(
        "mode     rate Hz  buffer  buffer µs  mean µs  frame-callback median µs  p99 µs  worst µs  median/buffer"
    );
    for (mode, rate) in [
        (MaskMode::Neural, 48_000.0f32),
        (MaskMode::Neural, 96_000.0),
        (MaskMode::Neural, 192_000.0),
        (MaskMode::Classic, 192_000.0),
        (MaskMode::Unity, 192_000.0),
    ] {
        let seconds = 20.0;
        let voice = synth::voice(rate, seconds, &Voice::default());
        let mut rng = Rng::new(3);
        let left: Vec<f32> = voice
            .iter()
            .zip(synth::pink(&mut rng, voice.len(), -35.0))
            .map(|(a, b)| a + b)
            .collect();
        let right: Vec<f32> = voice
            .iter()
            .zip(synth::pink(&mut rng, voice.len(), -35.0))
            .map(|(a, b)| a + b)
            .collect();
        let buffers: &[usize] = if mode == MaskMode::Neural {
            &[32, 64, 512]
        } else {
            &[32]
        };
        for &buffer in buffers {
            let mut engine = Engine::new(EngineConfig {
                sample_rate: rate,
                channels: 2,
            })
            .expect("engine");
            engine.set_model(Some(mask.clone()));
            engine.set_mode(mode);
            let (mut l, mut r) = (vec![0.0f32; buffer], vec![0.0f32; buffer]);
            let mut times = Vec::with_capacity(left.len() / buffer);
            // The callbacks that completed a frame (all of a hop's work), timed apart from the rest.
            let mut frames = Vec::new();
            for (a, b) in left.chunks_exact(buffer).zip(right.chunks_exact(buffer)) {
                l.copy_from_slice(a);
                r.copy_from_slice(b);
                let before = engine.frame_info().frame_index;
                let t = Instant::now();
                engine.process(black_box(&mut [&mut l[..], &mut r[..]]));
                let dt = t.elapsed().as_secs_f64() * 1e6;
                times.push(dt);
                if engine.frame_info().frame_index != before {
                    frames.push(dt);
                }
            }
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            frames.sort_by(f64::total_cmp);
            let median = frames[frames.len() / 2];
            let p99 = frames[(frames.len() as f64 * 0.99) as usize];
            let worst = frames[frames.len() - 1];
            let duration = buffer as f64 / f64::from(rate) * 1e6;
            println!(
                "{:<8} {rate:>7} {buffer:>7} {duration:>10.1} {mean:>8.2} {median:>25.1} {p99:>7.1} {worst:>9.1} {:>14.2}",
                format!("{mode:?}"),
                median / duration
            );
        }
    }
}
